"""Contributing factors: corrected and removed until publication; an action names the factor it addresses."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from improvement.models import Action
from improvement.services import create_action, update_action
from incidents.models import ContributingFactor
from tests.factories import (
    ActionFactory,
    ContributingFactorFactory,
    IncidentFactory,
    MembershipFactory,
    PostmortemFactory,
)
from tests.incidents.test_incident_moves import count_queries
from tests.web import once

pytestmark = pytest.mark.django_db


@pytest.fixture
def factor(team):
    return ContributingFactorFactory(postmortem=PostmortemFactory(incident=IncidentFactory(team=team)))


def url(factor, action):
    return reverse(f"incidents:postmortem_factor_{action}", args=[factor.team.slug, factor.postmortem_id, factor.pk])


def test_a_member_corrects_a_factor_and_the_audit_log_records_it(client, member, team, factor):
    client.force_login(member)
    response = client.post(url(factor, "edit"), {"category": "detection", "description": "No alert on 5xx."})
    assert response.status_code == 302 and response["Location"].endswith("#factors")
    factor.refresh_from_db()
    assert (factor.category, factor.description) == ("detection", "No alert on 5xx.")
    entry = LogEntry.objects.get_for_object(factor).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == member and entry.additional_data == {"team_id": team.pk}


def test_a_bad_correction_is_a_field_error_and_writes_nothing(client, member, factor):
    client.force_login(member)
    response = client.post(url(factor, "edit"), {"category": "astrology", "description": ""})
    assert response.status_code == 400
    assert {"category", "description"} <= set(response.context["form"].errors)
    factor.refresh_from_db()
    assert factor.category == "change"


def test_removing_a_factor_in_place_keeps_the_action_that_addressed_it(client, member, team, factor):
    action = ActionFactory(team=team)
    update_action(action=action, addresses_factor=factor)
    client.force_login(member)
    response = client.post(url(factor, "delete"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response.content.decode().startswith('<div id="factors-body">')
    assert not ContributingFactor.objects.filter(pk=factor.pk).exists()
    action.refresh_from_db()
    assert action.addresses_factor is None
    assert LogEntry.objects.filter(object_pk=str(factor.pk), action=LogEntry.Action.DELETE).exists()


def test_a_published_postmortems_factors_stay_as_they_are(client, lead, factor):
    factor.postmortem.status = "published"
    factor.postmortem.save()
    client.force_login(lead)
    page = client.get(reverse("incidents:postmortem", args=[factor.team.slug, factor.postmortem_id])).content.decode()
    assert url(factor, "edit") not in page
    assert client.post(url(factor, "edit"), {"category": "process", "description": "x"}).status_code == 400
    assert client.post(url(factor, "delete")).status_code == 400
    factor.refresh_from_db()
    assert factor.category == "change"


def test_viewers_and_other_teams_cannot_touch_a_factor(client, viewer, team, other_team, factor):
    client.force_login(viewer)
    assert client.post(url(factor, "delete")).status_code == 403
    client.force_login(MembershipFactory(team=other_team, role="lead").user)
    assert client.post(url(factor, "delete")).status_code == 404
    assert client.get(url(factor, "edit")).status_code == 404
    theirs = PostmortemFactory(incident=IncidentFactory(team=other_team))
    crossed = reverse("incidents:postmortem_factor_delete", args=[other_team.slug, theirs.pk, factor.pk])
    assert client.post(crossed).status_code == 404
    assert client.delete(f"/api/v1/postmortems/{factor.postmortem_id}/factors/{factor.pk}/").status_code == 404
    assert ContributingFactor.objects.filter(pk=factor.pk).exists()


def test_the_api_corrects_and_removes_factors(client, member, factor):
    client.force_login(member)
    api = f"/api/v1/postmortems/{factor.postmortem_id}/factors/{factor.pk}/"
    bad = client.patch(api, {"category": "astrology"}, content_type="application/json")
    assert bad.status_code == 400 and "category" in bad.json()["errors"]
    done = client.patch(api, {"description": "Pushed to all zones at once."}, content_type="application/json")
    assert done.status_code == 200 and done.json() == {
        "id": factor.pk,
        "category": "change",
        "description": "Pushed to all zones at once.",
    }
    assert client.delete(api).status_code == 204
    assert client.delete(api).status_code == 404
    assert client.delete(f"/api/v1/postmortems/{factor.postmortem_id}/").status_code == 405


def test_an_action_from_the_postmortem_names_its_factor_and_both_pages_show_it(client, member, team, factor):
    client.force_login(member)
    pm_url = reverse("incidents:postmortem", args=[team.slug, factor.postmortem_id])
    create = reverse("incidents:postmortem_action_create", args=[team.slug, factor.postmortem_id])
    data = once({"title": "Stagger config pushes", "kind": "preventive", "addresses_factor": factor.pk})
    assert client.post(create, data).status_code == 302
    action = Action.objects.get(title="Stagger config pushes")
    assert action.addresses_factor == factor
    page = client.get(pm_url).content.decode()
    assert "Addressed by" in page and reverse("improvement:action_detail", args=[team.slug, action.pk]) in page
    detail = client.get(reverse("improvement:action_detail", args=[team.slug, action.pk])).content.decode()
    assert "Addresses the factor" in detail and factor.description in detail


def test_the_action_form_sets_the_factor_and_links_its_postmortem(client, member, team, factor):
    action = ActionFactory(team=team)
    client.force_login(member)
    edit = reverse("improvement:action_edit", args=[team.slug, action.pk])
    form = client.get(edit).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(owner=action.owner_id or "", target_service=action.target_service_id or "", addresses_factor=factor.pk)
    data = {k: ("" if v is None else v) for k, v in data.items() if k not in ("target_problem",)}
    response = client.post(edit, data)
    assert response.status_code == 302, response.context["form"].errors
    action.refresh_from_db()
    assert action.addresses_factor == factor
    assert list(action.postmortems.all()) == [factor.postmortem]


def test_a_factor_of_another_postmortem_or_team_is_refused(team, other_team, factor):
    other_pm = PostmortemFactory(incident=IncidentFactory(team=team))
    action = create_action(team=team, title="Linked elsewhere", links={"postmortems": [other_pm]})
    with pytest.raises(Exception) as refused:
        update_action(action=action, addresses_factor=factor)
    assert "addresses_factor" in refused.value.message_dict
    action.refresh_from_db()
    assert action.addresses_factor is None
    theirs = ContributingFactorFactory(postmortem=PostmortemFactory(incident=IncidentFactory(team=other_team)))
    with pytest.raises(Exception) as foreign:
        create_action(team=team, title="Foreign factor", addresses_factor=theirs)
    assert "addresses_factor" in foreign.value.message_dict
    assert not Action.objects.filter(title="Foreign factor").exists()


def test_the_api_sets_the_factor_with_the_same_rules(client, member, team, other_team, factor):
    client.force_login(member)
    theirs = ContributingFactorFactory(postmortem=PostmortemFactory(incident=IncidentFactory(team=other_team)))
    refused = client.post(
        "/api/v1/actions/", {"title": "Foreign", "addresses_factor": theirs.pk}, content_type="application/json"
    )
    assert refused.status_code == 400 and "addresses_factor" in refused.json()["errors"]
    created = client.post(
        "/api/v1/actions/", {"title": "Stagger pushes", "addresses_factor": factor.pk}, content_type="application/json"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["addresses_factor"] == factor.pk and body["postmortems"] == [factor.postmortem_id]


def test_the_postmortem_and_action_pages_run_constant_queries(client, member, team, factor):
    client.force_login(member)
    action = ActionFactory(team=team)
    update_action(action=action, addresses_factor=factor)
    pages = [
        reverse("incidents:postmortem", args=[team.slug, factor.postmortem_id]),
        reverse("improvement:action_detail", args=[team.slug, action.pk]),
        reverse("improvement:action_edit", args=[team.slug, action.pk]),
        url(factor, "edit"),
    ]
    for page in pages:
        client.get(page)
    small = [count_queries(client, page) for page in pages]
    assert all(code == 200 for code, _ in small)
    for _ in range(6):
        more = ContributingFactorFactory(postmortem=factor.postmortem)
        update_action(action=ActionFactory(team=team), addresses_factor=more)
        ContributingFactorFactory(postmortem=PostmortemFactory(incident=IncidentFactory(team=team)))
    assert [count_queries(client, page) for page in pages] == small


def test_with_htmx_a_new_factor_is_offered_to_the_action_form_and_an_action_shows_under_its_factor(
    client, member, team, factor
):
    client.force_login(member)
    add = reverse("incidents:postmortem_factor_add", args=[team.slug, factor.postmortem_id])
    html = client.post(add, once({"category": "capacity", "description": "Pool too small"}), HTTP_HX_REQUEST="true")
    html = html.content.decode()
    new = ContributingFactor.objects.get(description="Pool too small")
    assert '<div id="pm-actions-body" hx-swap-oob="true">' in html and f'<option value="{new.pk}">' in html
    create = reverse("incidents:postmortem_action_create", args=[team.slug, factor.postmortem_id])
    data = once({"title": "Grow the pool", "kind": "corrective", "addresses_factor": new.pk})
    html = client.post(create, data, HTTP_HX_REQUEST="true").content.decode()
    assert '<div id="factors-body" hx-swap-oob="true">' in html
    factors_part = html[html.index('<div id="factors-body"') :]
    assert "Addressed by" in factors_part and "Grow the pool" in factors_part
