"""Read-heavy pages read from the replica; writes, and whoever just wrote, use the primary.

CI's PostgreSQL leg configures DATABASE_REPLICA_URL: a second connection on the local PostgreSQL
that mirrors the test database (committed rows only, as a replica sees them: the tests commit), and
what is asserted is which connection each query went to.
"""

import os

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.replica import PIN_COOKIE, ReplicaRouter, reading_from_replica
from incidents.models import Incident
from tests import factories

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.replica_reads,
    pytest.mark.django_db(databases=["default", "replica"], transaction=True),
]


@pytest.fixture(autouse=True)
def replica_configured():
    if "replica" not in settings.DATABASES:
        message = "DATABASE_REPLICA_URL is not set"
        if os.environ.get("OPSKAIZEN_REQUIRE_SERVICES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    yield
    connections["replica"].close()  # the test database is dropped at the end: no session may hold it


def queries(alias):
    return CaptureQueriesContext(connections[alias])


def tables(captured) -> str:
    return " ".join(q["sql"] for q in captured.captured_queries)


def test_the_dashboard_reads_its_figures_from_the_replica_and_access_from_the_primary(client, team, member):
    factories.IncidentFactory.create_batch(3, team=team)
    client.force_login(member)
    with queries("default") as primary, queries("replica") as replica:
        response = client.get(reverse("reporting:dashboard", args=[team.slug]))
    assert response.status_code == 200
    assert 'FROM "incidents_incident"' in tables(replica)  # the figures
    assert 'FROM "incidents_incident"' not in tables(primary)
    assert "teams_membership" in tables(primary)  # who may see the team: decided on the primary
    assert "django_session" in tables(primary) and "django_session" not in tables(replica)


def test_the_metrics_api_reads_from_the_replica_after_the_token_is_checked_on_the_primary(team, make_client):
    factories.IncidentFactory.create_batch(2, team=team)
    api, _token = make_client(team, scope="read")
    with queries("default") as primary, queries("replica") as replica:
        response = api.get("/api/v1/metrics/", {"team": team.slug})
    assert response.status_code == 200, response.content
    assert "teams_apitoken" in tables(primary) and "teams_apitoken" not in tables(replica)
    assert 'FROM "incidents_incident"' in tables(replica) and 'FROM "incidents_incident"' not in tables(primary)


def test_a_request_that_has_written_reads_its_own_writes_from_the_primary(team, rf):
    request = rf.get("/")
    router = ReplicaRouter()
    with reading_from_replica(request):
        assert router.db_for_read(Incident) == "replica"
        with queries("default") as primary, queries("replica") as replica:
            incident = factories.IncidentFactory(team=team)
            assert Incident.objects.get(pk=incident.pk).title == incident.title
        assert router.db_for_read(Incident) == "default"
    assert 'FROM "incidents_incident"' in tables(primary)
    assert 'FROM "incidents_incident"' not in tables(replica)


def test_after_a_post_the_browser_reads_from_the_primary_for_a_while(client, team, member):
    client.force_login(member)
    response = client.post(reverse("incidents:create", args=[team.slug]), {})  # refused or not: it is a write
    assert response.cookies[PIN_COOKIE]["max-age"] == settings.READ_REPLICA_PIN_SECONDS
    with queries("replica") as replica:
        assert client.get(reverse("reporting:dashboard", args=[team.slug])).status_code == 200
    assert replica.captured_queries == []


def test_writes_and_other_pages_never_use_the_replica(client, team, member, rf):
    client.force_login(member)
    with queries("replica") as replica:
        assert client.get(reverse("incidents:list", args=[team.slug])).status_code == 200
    assert replica.captured_queries == []
    with reading_from_replica(rf.post("/")):
        assert ReplicaRouter().db_for_read(Incident) == "default"  # a POST never reads the replica
