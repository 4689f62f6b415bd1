"""The service catalog and a service's page: figures from the dashboard's aggregates, its problems and changes."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.measures import queries
from incidents.measures.scope import build_scope
from tests.factories import (
    ActionFactory,
    ChangeFactory,
    IncidentFactory,
    MembershipFactory,
    ProblemFactory,
    ServiceFactory,
)

pytestmark = pytest.mark.django_db


def detail(team, service):
    return reverse("services:detail", args=[team.slug, service.slug])


def test_the_catalog_shows_tier_owner_description_and_links(client, viewer, team, other_team):
    owner = MembershipFactory(team=team, user__username="olivia").user
    ServiceFactory(
        team=team,
        name="Checkout",
        tier=1,
        owner=owner,
        description="Takes the money.",
        runbook_url="https://wiki.example.com/checkout",
    )
    ServiceFactory(team=other_team, name="Theirs")
    client.force_login(viewer)
    html = client.get(reverse("services:list", args=[team.slug])).content.decode()
    assert "Checkout" in html and "olivia" in html and "Takes the money." in html
    assert 'href="https://wiki.example.com/checkout"' in html
    assert "tier 1 (critical)" in html
    assert "Theirs" not in html


def test_the_service_page_figures_are_the_dashboards_aggregates(client, viewer, team):
    service = ServiceFactory(team=team, name="Gateway")
    last_week = timezone.now() - dt.timedelta(days=10)
    bad = ChangeFactory(team=team, service=service, deployed_at=last_week)
    ChangeFactory(team=team, service=service, deployed_at=last_week)
    ChangeFactory(team=team, service=service, deployed_at=last_week, failed=True)
    ChangeFactory(team=team, service=service, deployed_at=last_week)
    IncidentFactory(
        team=team,
        service=service,
        caused_by_change=bad,
        started_at=last_week,
        mitigated_at=last_week + dt.timedelta(minutes=30),
    )
    IncidentFactory(team=team, service=service, started_at=last_week, mitigated_at=last_week + dt.timedelta(hours=2))
    IncidentFactory(team=team, started_at=last_week)  # another service
    client.force_login(viewer)
    response = client.get(detail(team, service))
    figures = response.context["figures"]
    scope = build_scope(teams=team, service=service)
    expected = queries.incidents(scope).aggregate(**queries.incident_aggregates(repeat_breakdown=False))
    assert figures["incidents"] == 2 == expected["incidents"]
    assert figures["time_to_restore"]["median"] == expected["time_to_mitigate_p50"] == 75 * 60
    assert figures["change_failure_rate"] == 0.5  # one marked failed, one named as a cause, of four
    assert "50.0 %" in response.content.decode()


def test_the_service_page_lists_its_problems_changes_and_open_actions(client, member, team):
    service = ServiceFactory(team=team)
    ProblemFactory(team=team, service=service, title="Cold cache")
    ChangeFactory(team=team, service=service, title="Deploy cache warmer")
    ActionFactory(team=team, target_service=service, title="Warm the cache on deploy")
    ActionFactory(team=team, target_service=service, title="Finished one", stage="done")
    ActionFactory(team=team, title="Aimed elsewhere")
    client.force_login(member)
    html = client.get(detail(team, service)).content.decode()
    assert "Cold cache" in html and "Deploy cache warmer" in html and "Warm the cache on deploy" in html
    assert "Finished one" not in html and "Aimed elsewhere" not in html


def test_another_teams_service_is_404(client, member, team, other_team):
    theirs = ServiceFactory(team=other_team, slug="theirs")
    client.force_login(member)
    assert client.get(reverse("services:detail", args=[team.slug, "theirs"])).status_code == 404
    assert client.get(detail(other_team, theirs)).status_code == 404
    assert client.post(reverse("services:list", args=[team.slug])).status_code == 405


def test_service_pages_query_counts_do_not_grow_with_rows(
    client, member, team, django_assert_num_queries, django_assert_max_num_queries
):
    service = ServiceFactory(team=team)
    client.force_login(member)
    client.get(reverse("services:list", args=[team.slug]))
    for url in (reverse("services:list", args=[team.slug]), detail(team, service)):
        with django_assert_max_num_queries(30) as small:
            client.get(url)
        for _ in range(12):
            ServiceFactory(team=team, owner=member)
            ProblemFactory(team=team, service=service)
            IncidentFactory(team=team, service=service)
            ChangeFactory(team=team, service=service)
            ActionFactory(team=team, target_service=service)
        with django_assert_num_queries(len(small.captured_queries)):
            assert client.get(url).status_code == 200


def test_service_page_in_french(client, member, team):
    service = ServiceFactory(team=team)
    client.force_login(member)
    html = client.get(detail(team, service), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Taux d'échec des changements" in html or "Taux d’échec des changements" in html
    assert "Actions ouvertes" in html
