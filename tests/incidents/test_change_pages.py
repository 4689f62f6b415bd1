"""The change log (the API's filter set on a page) and a change's page with the incidents it caused."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import ChangeFactory, IncidentFactory, ProblemFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def test_the_log_filters_by_service_kind_failed_period_and_search(client, member, team):
    gateway, db = ServiceFactory(team=team, name="Gateway"), ServiceFactory(team=team, name="Database")
    day = timezone.now().replace(year=2026, month=3, day=10, hour=12)
    ChangeFactory(team=team, service=gateway, title="Deploy gateway v2", kind="normal", deployed_at=day)
    ChangeFactory(team=team, service=db, title="Schema migration", kind="emergency", failed=True, deployed_at=day)
    ChangeFactory(
        team=team, service=gateway, title="Old config push", kind="standard", deployed_at=day - dt.timedelta(60)
    )
    client.force_login(member)
    url = reverse("changes:list", args=[team.slug])

    def titles(**params):
        return sorted(c.title for c in client.get(url, params).context["page"].object_list)

    assert titles() == ["Deploy gateway v2", "Old config push", "Schema migration"]
    assert titles(service=gateway.pk) == ["Deploy gateway v2", "Old config push"]
    assert titles(kind="emergency") == ["Schema migration"]
    assert titles(failed="true") == ["Schema migration"]
    assert titles(failed="false", service=gateway.pk) == ["Deploy gateway v2", "Old config push"]
    assert titles(deployed_from="2026-03-01", deployed_to="2026-03-31") == ["Deploy gateway v2", "Schema migration"]
    assert titles(q="config") == ["Old config push"]


def test_a_filter_on_another_teams_service_is_a_field_error(client, member, team, other_team):
    from tests.factories import MembershipFactory

    theirs = ServiceFactory(team=other_team, name="Theirs")
    MembershipFactory(team=other_team, user=member)  # even a member of both teams: the page is one team's
    ChangeFactory(team=team, title="Mine")
    client.force_login(member)
    response = client.get(reverse("changes:list", args=[team.slug]), {"service": theirs.pk})
    assert response.status_code == 400
    assert "service" in response.context["filterset"].errors
    assert "Select a valid choice" in response.content.decode()
    assert ">Theirs<" not in response.content.decode()


def test_the_api_still_filters_changes_by_the_same_filter_set(make_client, team):
    service = ServiceFactory(team=team)
    ChangeFactory(team=team, service=service, title="On it", failed=True)
    ChangeFactory(team=team, title="Elsewhere")
    api, _token = make_client(team, scope="read")
    body = api.get("/api/v1/changes/", {"service": service.pk, "failed": "true"}).json()
    assert [c["title"] for c in body["results"]] == ["On it"]


def test_a_change_page_lists_the_incidents_it_caused(client, viewer, team):
    change = ChangeFactory(team=team, title="Deploy v3", failed=True)
    problem = ProblemFactory(team=team, title="Bad configs")
    IncidentFactory(team=team, caused_by_change=change, title="Checkout 500s", problem=problem)
    IncidentFactory(team=team, title="Unrelated")
    client.force_login(viewer)
    html = client.get(reverse("changes:detail", args=[team.slug, change.pk])).content.decode()
    assert "Checkout 500s" in html and "Bad configs" in html
    assert "Unrelated" not in html


def test_another_teams_change_is_404(client, member, team, other_team):
    theirs = ChangeFactory(team=other_team)
    client.force_login(member)
    assert client.get(reverse("changes:detail", args=[team.slug, theirs.pk])).status_code == 404
    assert client.get(reverse("changes:list", args=[other_team.slug])).status_code == 404
    assert client.post(reverse("changes:list", args=[team.slug])).status_code == 405


def test_change_pages_query_counts_do_not_grow_with_rows(
    client, member, team, django_assert_num_queries, django_assert_max_num_queries
):
    client.force_login(member)
    change = ChangeFactory(team=team)
    IncidentFactory(team=team, caused_by_change=change)
    client.get(reverse("changes:list", args=[team.slug]))
    for url in (reverse("changes:list", args=[team.slug]), reverse("changes:detail", args=[team.slug, change.pk])):
        with django_assert_max_num_queries(30) as small:
            client.get(url)
        for _ in range(12):
            other = ChangeFactory(team=team)
            IncidentFactory(team=team, caused_by_change=other)
            IncidentFactory(team=team, caused_by_change=change)
        with django_assert_num_queries(len(small.captured_queries)):
            assert client.get(url).status_code == 200


def test_the_change_log_in_french(client, member, team):
    ChangeFactory(team=team, failed=True)
    client.force_login(member)
    html = client.get(reverse("changes:list", args=[team.slug]), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Incidents causés" in html
    assert "Déployé le ou après" in html
