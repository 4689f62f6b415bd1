"""Optional incident roles: a commander and a scribe, members or leads of the team, on the form, page and API."""

import pytest
from django.urls import reverse

from incidents.models import Incident
from tests.factories import IncidentFactory, MembershipFactory
from tests.incidents.test_incident_moves import count_queries
from tests.web import once

pytestmark = pytest.mark.django_db


def form_data(**extra):
    return once({"title": "DNS outage", "severity": "SEV2", "status": "open", "started_at": "2026-03-02T09:00"} | extra)


def test_it_names_a_commander_and_a_scribe_and_shows_them(client, member, lead, team):
    client.force_login(member)
    response = client.post(
        reverse("incidents:create", args=[team.slug]), form_data(commander=lead.pk, scribe=member.pk)
    )
    assert response.status_code == 302
    incident = Incident.objects.get(title="DNS outage")
    assert (incident.commander, incident.scribe) == (lead, member)
    html = client.get(response["Location"]).content.decode()
    assert "Incident commander" in html and lead.get_username() in html


def test_the_roles_are_optional(client, member, team):
    client.force_login(member)
    assert client.post(reverse("incidents:create", args=[team.slug]), form_data()).status_code == 302
    incident = Incident.objects.get()
    assert incident.commander is None and incident.scribe is None


def test_only_members_or_leads_of_the_team_take_a_role(client, member, viewer, team, other_team):
    outsider = MembershipFactory(team=other_team, role="lead").user
    client.force_login(member)
    form = client.get(reverse("incidents:create", args=[team.slug])).content.decode()
    assert f'<option value="{outsider.pk}"' not in form and f'<option value="{viewer.pk}"' not in form
    response = client.post(
        reverse("incidents:create", args=[team.slug]), form_data(commander=outsider.pk, scribe=viewer.pk)
    )
    assert response.status_code == 400
    assert {"commander", "scribe"} <= set(response.context["form"].errors)
    assert not Incident.objects.exists()


def test_the_api_takes_the_roles_by_username_with_the_same_rule(client, member, lead, viewer, team, other_team):
    outsider = MembershipFactory(team=other_team, role="lead").user
    client.force_login(member)
    body = {"title": "Disk full", "started_at": "2026-03-02T09:00:00Z", "commander": lead.username}
    created = client.post("/api/v1/incidents/", body, content_type="application/json")
    assert created.status_code == 201 and created.json()["commander"] == lead.username
    incident_url = f"/api/v1/incidents/{created.json()['id']}/"
    for who in (viewer.username, outsider.username):
        refused = client.patch(incident_url, {"scribe": who}, content_type="application/json")
        assert refused.status_code == 400 and "scribe" in refused.json()["errors"], who
    assert Incident.objects.get().scribe is None
    done = client.patch(incident_url, {"scribe": member.username}, content_type="application/json")
    assert done.status_code == 200 and done.json()["scribe"] == member.username


def test_the_service_refuses_a_user_of_another_team_even_when_the_caller_sees_both(team, other_team, member):
    from django.core.exceptions import ValidationError

    from incidents.services import update_incident

    outsider = MembershipFactory(team=other_team, role="member").user
    incident = IncidentFactory(team=team)
    with pytest.raises(ValidationError) as refused:
        update_incident(incident=incident, commander=outsider)
    assert "commander" in refused.value.message_dict
    incident.refresh_from_db()
    assert incident.commander is None


def test_the_form_and_the_page_take_constant_queries(client, member, team):
    incident = IncidentFactory(team=team, commander=member, scribe=member)
    client.force_login(member)
    pages = [
        reverse("incidents:create", args=[team.slug]),
        reverse("incidents:edit", args=[team.slug, incident.pk]),
        reverse("incidents:detail", args=[team.slug, incident.pk]),
    ]
    for page in pages:
        client.get(page)
    small = [count_queries(client, page) for page in pages]
    for _ in range(6):
        MembershipFactory(team=team, role="member")
    assert [count_queries(client, page) for page in pages] == small
