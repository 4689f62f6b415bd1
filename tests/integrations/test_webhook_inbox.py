"""The incoming-webhook inbox: accepted deliveries are stored queued and applied by the drain.

The drain applies one integration's deliveries in arrival order, a batch in one transaction,
each delivery once even with several drains running, and is nudged after every accepted delivery.
"""

import json
import threading
import time

import pytest
from django.db import DatabaseError, connection
from django.test import Client

from incidents.models import Incident
from integrations.models import WebhookDelivery
from integrations.services import create_integration
from integrations.webhooks import generic, processing
from integrations.webhooks.processing import drain_inbox

T0 = "2026-01-01T10:00:00Z"


def deliver(integration, payload: dict):
    """POST a signed generic delivery without draining; returns the response."""
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    headers = {
        "HTTP_" + generic.TIMESTAMP_HEADER.upper().replace("-", "_"): timestamp,
        "HTTP_" + generic.SIGNATURE_HEADER.upper().replace("-", "_"): generic.sign(integration.secret, timestamp, body),
    }
    return Client().post(f"/hooks/{integration.public_id}/", data=body, content_type="application/json", **headers)


def incident_event(n: int, external_id: str = "ALERT-1", **data) -> dict:
    return {
        "id": f"evt-{external_id}-{n}",
        "type": "incident",
        "data": {"external_id": external_id, "title": f"Version {n}", "started_at": T0, **data},
    }


@pytest.mark.django_db
def test_one_integrations_deliveries_apply_in_arrival_order(team):
    hook = create_integration(team=team, source="generic")
    for n in range(1, 6):
        assert deliver(hook, incident_event(n)).status_code == 202
    assert drain_inbox(batch_size=2) == 5  # three batches
    incident = Incident.objects.get(external_id="ALERT-1")
    assert incident.title == "Version 5"
    processed = WebhookDelivery.objects.filter(outcome="processed").order_by("processed_at", "id")
    assert [d.vendor_delivery_id for d in processed] == [f"evt-ALERT-1-{n}" for n in range(1, 6)]


@pytest.mark.django_db
def test_each_team_gets_only_its_own_deliveries(team, other_team):
    mine, theirs = (
        create_integration(team=team, source="generic"),
        create_integration(team=other_team, source="generic"),
    )
    deliver(mine, incident_event(1, "MINE"))
    deliver(theirs, incident_event(1, "THEIRS"))
    assert drain_inbox() == 2
    assert Incident.objects.get(external_id="MINE").team == team
    assert Incident.objects.get(external_id="THEIRS").team == other_team


@pytest.mark.django_db
def test_a_batch_that_hits_a_database_error_commits_nothing_and_is_applied_whole_later(team, monkeypatch):
    hook = create_integration(team=team, source="generic")
    for n in (1, 2, 3):
        deliver(hook, incident_event(n, f"A-{n}"))
    real_plan, calls = generic.plan, []  # the incident events' mapping (bulk rows)

    def failing_on_the_second(integration, event, payload):
        calls.append(payload["id"])
        if len(calls) == 2:
            raise DatabaseError("connection lost")
        return real_plan(integration, event, payload)

    monkeypatch.setattr(generic, "plan", failing_on_the_second)
    with pytest.raises(DatabaseError):
        drain_inbox()
    assert not Incident.objects.exists()
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"queued"}
    monkeypatch.setattr(generic, "plan", real_plan)
    assert drain_inbox() == 3
    assert Incident.objects.count() == 3


@pytest.mark.django_db
def test_a_delivery_with_an_unforeseen_shape_fails_alone(team, monkeypatch):
    hook = create_integration(team=team, source="generic")
    deliver(hook, incident_event(1, "OK-1"))
    deliver(hook, incident_event(1, "BAD"))
    deliver(hook, incident_event(1, "OK-2"))
    real_plan = generic.plan

    def shape_error_on_bad(integration, event, payload):
        if payload["data"]["external_id"] == "BAD":
            raise KeyError("fields")
        return real_plan(integration, event, payload)

    monkeypatch.setattr(generic, "plan", shape_error_on_bad)
    assert drain_inbox() == 3
    outcomes = dict(WebhookDelivery.objects.values_list("vendor_delivery_id", "outcome"))
    assert outcomes == {"evt-OK-1-1": "processed", "evt-BAD-1": "failed", "evt-OK-2-1": "processed"}
    assert "Unexpected payload shape" in WebhookDelivery.objects.get(vendor_delivery_id="evt-BAD-1").error


@pytest.mark.django_db
def test_an_accepted_delivery_nudges_the_drain_task(team, celery_eager, django_capture_on_commit_callbacks):
    hook = create_integration(team=team, source="generic")
    processing.release_nudge()
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(hook, incident_event(1))
    assert response.status_code == 202
    # The nudge ran the task (eagerly here), which applied the delivery.
    assert WebhookDelivery.objects.get().outcome == "processed"
    assert Incident.objects.get(external_id="ALERT-1").title == "Version 1"


@pytest.mark.django_db
def test_with_a_shared_cache_one_nudge_is_pending_at_a_time(team, monkeypatch, django_capture_on_commit_callbacks):
    queued, keys = [], set()

    class SharedCache:
        def add(self, key, value, timeout):
            if key in keys:
                return False
            keys.add(key)
            return True

    monkeypatch.setattr("core.tasks.enqueue", lambda task, *args: queued.append(getattr(task, "name", task)) or True)
    monkeypatch.setattr(processing, "shared_cache", lambda: True)
    monkeypatch.setattr(processing, "cache", SharedCache())
    hook = create_integration(team=team, source="generic")
    with django_capture_on_commit_callbacks(execute=True):
        for n in (1, 2, 3):
            assert deliver(hook, incident_event(n)).status_code == 202
    assert queued == ["teams.drain_webhooks"]  # the first nudge took the key; the task clears it when it starts
    assert WebhookDelivery.objects.filter(outcome="queued").count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_drains_running_together_apply_each_delivery_once(team, other_team):
    hooks = [create_integration(team=team, source="generic"), create_integration(team=other_team, source="generic")]
    for n in range(1, 41):
        deliver(hooks[n % 2], incident_event(n, f"R-{n}"))
    barrier, counts, errors = threading.Barrier(3), [], []

    def drain():
        try:
            barrier.wait()
            counts.append(drain_inbox(batch_size=5))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(counts) == 40
    assert Incident.objects.count() == 40
    assert WebhookDelivery.objects.filter(outcome="processed").count() == 40


def test_the_drain_task_releases_the_nudge_key_it_was_queued_under(db):
    """claim → taken → released by the drain task → claimable again (Redis client or the local cache)."""
    from integrations.tasks import drain_webhooks

    processing.release_nudge()
    assert processing.claim_nudge() is True
    assert processing.claim_nudge() is False
    drain_webhooks()
    assert processing.claim_nudge() is True
    processing.release_nudge()


@pytest.mark.django_db
def test_the_hooks_plain_lookup_reads_what_the_orm_reads(team):
    from integrations.models import Integration
    from integrations.webhooks.views import active_integration

    hook = create_integration(team=team, source="github")
    found = active_integration(hook.public_id)
    assert (found.pk, found.team_id, found.source, found.secret) == (hook.pk, team.pk, "github", hook.secret)
    assert found.public_id == hook.public_id and found.active
    Integration.objects.filter(pk=hook.pk).update(active=False)
    assert active_integration(hook.public_id) is None
