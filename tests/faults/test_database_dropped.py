"""PostgreSQL connection dropped in the middle of a write request → a clean 503, nothing half-written.

The request's own database connection is terminated from a second connection
(pg_terminate_backend) inside the service's transaction, after its first writes: the stage
UPDATE and the StageTransition INSERT are done, the outbox row is next. Then the next request
reconnects and succeeds.
"""

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from improvement.models import Action, StageTransition
from incidents.models import Incident
from integrations import outgoing
from integrations.models import OutgoingDelivery
from integrations.services import create_outgoing_webhook
from teams.models import ApiToken
from teams.services import create_api_token
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def terminate(pid: int) -> None:
    """Kill backend `pid` from another connection, as a failover or an admin would."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


def test_connection_killed_mid_transition_is_a_503_with_nothing_written_then_the_next_request_works(
    team, monkeypatch, allow_private_networks
):
    action = factories.ActionFactory(team=team)
    create_outgoing_webhook(team=team, url="http://127.0.0.1:9/never-called")
    holder = factories.MembershipFactory(team=team, role="lead").user  # a token acts with its holder's rights
    _token, key = create_api_token(team=team, name="fault test", scope=ApiToken.Scope.READ_WRITE, by=holder)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    before = StageTransition.objects.filter(action=action).count()

    real_record_event = outgoing.record_event
    killed = []

    def enqueue_after_losing_the_database(*args, **kwargs):
        # Inside move_action's transaction: the action row is updated, the transition inserted.
        assert connection.in_atomic_block
        assert StageTransition.objects.filter(action=action, to_stage="do").exists()
        killed.append(connection.connection.info.backend_pid)
        terminate(killed[-1])
        return real_record_event(*args, **kwargs)  # its INSERT meets a dead connection

    monkeypatch.setattr(outgoing, "record_event", enqueue_after_losing_the_database)
    response = client.post(f"/api/v1/actions/{action.pk}/transition/", {"to_stage": "do"}, format="json")

    assert killed, "the fault was not injected"
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["errors"] == {}
    assert "Nothing was saved" in body["message"]
    # PostgreSQL rolled the whole transaction back: no stage change, no transition, no outbox row.
    assert Action.objects.get(pk=action.pk).stage == "plan"
    assert StageTransition.objects.filter(action=action).count() == before
    assert not OutgoingDelivery.objects.exists()

    monkeypatch.setattr(outgoing, "record_event", real_record_event)
    response = client.post(f"/api/v1/actions/{action.pk}/transition/", {"to_stage": "do"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == "do"
    assert connection.connection.info.backend_pid != killed[0]  # a fresh connection
    assert StageTransition.objects.filter(action=action, to_stage="do").count() == 1
    assert OutgoingDelivery.objects.filter(event="action.moved", status="pending").count() == 1


def test_connection_killed_after_the_incident_insert_is_a_503_and_no_incident_exists(team, monkeypatch):
    holder = factories.MembershipFactory(team=team, role="lead").user  # a token acts with its holder's rights
    _token, key = create_api_token(team=team, name="fault test", scope=ApiToken.Scope.READ_WRITE, by=holder)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    payload = {"title": "Disk full on db-1", "severity": "SEV2", "started_at": "2026-11-27T04:00:00Z"}
    killed = []
    real_save = Incident.save

    def save_then_lose_the_database(self, *args, **kwargs):
        real_save(self, *args, **kwargs)  # the INSERT ran; the COMMIT has not
        if not killed:
            killed.append(connection.connection.info.backend_pid)
            terminate(killed[-1])

    monkeypatch.setattr(Incident, "save", save_then_lose_the_database)
    response = client.post("/api/v1/incidents/", payload, format="json")

    assert killed, "the fault was not injected"
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "service_unavailable"
    assert not Incident.objects.filter(team=team).exists()

    response = client.post("/api/v1/incidents/", payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["title"] == "Disk full on db-1"
    assert Incident.objects.filter(team=team, title="Disk full on db-1").count() == 1
