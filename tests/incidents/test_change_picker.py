"""The incident form's "caused by change" picker: named by date, service and kind, searchable, team-scoped."""

import datetime as dt

import pytest
from django.urls import reverse

from incidents.models import Change, Incident
from tests.factories import ChangeFactory, IncidentFactory, ServiceFactory
from tests.web import once

pytestmark = pytest.mark.django_db


def test_it_names_each_change_by_date_service_and_kind(client, member, team):
    payments = ServiceFactory(team=team, name="Payments")
    ChangeFactory(
        team=team,
        service=payments,
        title="Deploy v7",
        kind=Change.Kind.EMERGENCY,
        deployed_at=dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC),
    )
    client.force_login(member)
    html = client.get(reverse("incidents:create", args=[team.slug])).content.decode()
    assert "2026-03-01 08:30 · Payments · emergency — Deploy v7" in html
    assert 'id="change-search"' in html and reverse("changes:pick", args=[team.slug]) in html


def test_it_searches_the_whole_change_log_by_title_service_or_id(client, member, team):
    billing = ServiceFactory(team=team, name="Billing")
    old = ChangeFactory(
        team=team,
        service=billing,
        title="Schema migration",
        external_id="CHG-42",
        deployed_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )
    ChangeFactory.create_batch(60, team=team)  # more recent than the old one: it is not in the plain list
    client.force_login(member)
    form_html = client.get(reverse("incidents:create", args=[team.slug])).content.decode()
    assert "Schema migration" not in form_html
    url = reverse("changes:pick", args=[team.slug])
    for q in ("schema", "billing", "chg-42"):
        html = client.get(url, {"q": q}, HTTP_HX_REQUEST="true").content.decode()
        assert f'value="{old.pk}"' in html, q
        assert html.count("<option") == 2, q  # the empty choice and the match


def test_it_keeps_the_chosen_change_among_the_results(client, member, team):
    chosen = ChangeFactory(team=team, title="Chosen one")
    ChangeFactory(team=team, title="Other deploy")
    client.force_login(member)
    html = client.get(
        reverse("changes:pick", args=[team.slug]), {"q": "other", "caused_by_change": chosen.pk}
    ).content.decode()
    assert f'<option value="{chosen.pk}" selected>' in html and "Other deploy" in html


def test_it_accepts_an_old_change_found_by_search_without_script(client, member, team):
    old = ChangeFactory(team=team, deployed_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    ChangeFactory.create_batch(55, team=team)
    client.force_login(member)
    data = once(
        {
            "title": "Slow checkout",
            "severity": "SEV3",
            "status": "open",
            "started_at": "2026-03-02T09:00",
            "caused_by_change": old.pk,
        }
    )
    response = client.post(reverse("incidents:create", args=[team.slug]), data)
    assert response.status_code == 302
    assert Incident.objects.get(title="Slow checkout").caused_by_change == old


def test_it_never_offers_or_accepts_another_teams_change(client, member, team, other_team):
    theirs = ChangeFactory(team=other_team, title="Their secret deploy")
    client.force_login(member)
    pick = client.get(reverse("changes:pick", args=[team.slug]), {"q": "secret", "caused_by_change": theirs.pk})
    assert "Their secret deploy" not in pick.content.decode()
    assert client.get(reverse("changes:pick", args=[other_team.slug])).status_code == 404
    data = once(
        {
            "title": "X",
            "severity": "SEV3",
            "status": "open",
            "started_at": "2026-03-02T09:00",
            "caused_by_change": theirs.pk,
        }
    )
    response = client.post(reverse("incidents:create", args=[team.slug]), data)
    assert response.status_code == 400 and "caused_by_change" in response.context["form"].errors
    assert not Incident.objects.exists()


def test_the_edit_form_keeps_an_old_chosen_change_listed(client, member, team):
    old = ChangeFactory(team=team, title="Ancient deploy", deployed_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    ChangeFactory.create_batch(55, team=team)
    incident = IncidentFactory(team=team, caused_by_change=old)
    client.force_login(member)
    html = client.get(reverse("incidents:edit", args=[team.slug, incident.pk])).content.decode()
    assert f'<option value="{old.pk}" selected>' in html


def test_the_picker_and_the_form_take_constant_queries(
    client, member, team, django_assert_num_queries, django_assert_max_num_queries
):
    client.force_login(member)
    urls = (reverse("incidents:create", args=[team.slug]), reverse("changes:pick", args=[team.slug]) + "?q=deploy")
    ChangeFactory.create_batch(2, team=team)
    counts = []
    for url in urls:
        client.get(url)
        with django_assert_max_num_queries(30) as small:
            client.get(url)
        counts.append(len(small.captured_queries))
    ChangeFactory.create_batch(70, team=team, service=ServiceFactory(team=team))
    for url, count in zip(urls, counts, strict=True):
        with django_assert_num_queries(count):
            assert client.get(url).status_code == 200
