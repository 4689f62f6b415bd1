"""The bulk drain: a batch of queued deliveries is applied with one lookup and bulk writes.

What a batch writes must be what the same deliveries write one drain at a time (the vendors'
payloads of tests/integrations, signed as each vendor documents): the same fields, stamps,
timeline and per-delivery outcomes. Its cost does not grow with the batch, a delivery is applied
whole or not at all, the audit gets one entry per record in one INSERT, and on PostgreSQL two
drains share one busy source, each incident held by one of them at a time.
"""

import contextlib
import copy
import itertools
import json
import threading

import pytest
from auditlog.models import LogEntry
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident, TimelineEvent
from integrations.models import Integration, WebhookDelivery
from integrations.services import create_integration
from integrations.webhooks import pagerduty, processing
from integrations.webhooks.processing import drain_inbox
from tests import factories
from tests.integrations.test_alertmanager import notification
from tests.integrations.test_order_rule import PD_LIFECYCLE, at, pd
from tests.integrations.test_webhook_inbox import deliver, incident_event

pytestmark = pytest.mark.django_db

COMPARED = (
    "status", "title", "severity", "url", "service_id", "started_at", "detected_at", "acknowledged_at",
    "mitigated_at", "resolved_at", "source_event_at", "field_event_at",
)  # fmt: skip


def queue(integration, body: dict, **headers):
    """POST one delivery and leave it queued (no drain)."""
    response = Client().post(
        f"/hooks/{integration.public_id}/", data=json.dumps(body), content_type="application/json", **headers
    )
    assert response.status_code == 202, response.content
    return response


def queue_pagerduty(integration, payload):
    body = json.dumps(payload).encode()
    queue(integration, payload, HTTP_X_PAGERDUTY_SIGNATURE=pagerduty.sign(integration.secret, body))


def queue_alertmanager(integration, payload):
    queue(integration, payload, HTTP_AUTHORIZATION=f"Bearer {integration.bearer_token}")


@contextlib.contextmanager
def another_drain_holding(hold):
    """Run `hold(cursor)` in another connection's open transaction, as a drain in the middle of its batch."""
    held, release, errors = threading.Event(), threading.Event(), []

    def other_drain():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                hold(cursor)
                held.set()
                release.wait(30)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=other_drain)
    thread.start()
    assert held.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join()
    assert errors == []


def state(incident: Incident) -> tuple:
    statuses = list(
        TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.STATUS)
        .order_by("id")
        .values_list("data", flat=True)
    )
    return (*(getattr(incident, name) for name in COMPARED if name != "service_id"), statuses)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_a_lifecycle_queued_together_ends_as_when_each_delivery_is_drained_alone(team, other_team, order):
    factories.ServiceFactory(team=team, name="Checkout", slug="checkout")
    factories.ServiceFactory(team=other_team, name="Checkout", slug="checkout")
    batched = create_integration(team=team, source="pagerduty")
    alone = create_integration(team=other_team, source="pagerduty")
    for position in order:
        payload = pd(*PD_LIFECYCLE[position])
        queue_pagerduty(batched, payload)
        queue_pagerduty(alone, copy.deepcopy(payload) | {"event": {**payload["event"], "id": f"alone-{position}"}})
    # The other team's drain one delivery at a time (batches of one), then ours in one batch.
    for delivery in WebhookDelivery.objects.filter(integration=alone).order_by("id"):
        with transaction.atomic():
            processing.apply_deliveries(alone, [WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)])
    assert drain_inbox() == 3
    ours = Incident.objects.get(team=team, source="pagerduty")
    theirs = Incident.objects.get(team=other_team, source="pagerduty")
    assert state(ours) == state(theirs)
    assert (ours.status, ours.title, ours.acknowledged_at, ours.resolved_at) == (
        "resolved",
        "Checkout down (fixed)",
        at(5),
        at(40),
    )
    assert ours.service.team == team and theirs.service.team == other_team
    outcomes = list(WebhookDelivery.objects.filter(integration=batched).order_by("id").values_list("outcome", "result"))
    assert [outcome for outcome, _result in outcomes] == ["processed"] * 3
    assert {result["incident"] for _outcome, result in outcomes} == {ours.pk}
    assert [result["created"] for _outcome, result in outcomes] == [True, False, False]


def test_a_batch_costs_the_same_queries_whatever_its_size(team):
    hook = create_integration(team=team, source="generic")

    def drain_counting(count: int, prefix: str) -> int:
        for n in range(count):
            deliver(hook, incident_event(1, f"{prefix}-{n}"))
        with CaptureQueriesContext(connection) as captured:
            assert drain_inbox() == count
        return len(captured.captured_queries)

    small, large = drain_counting(3, "S"), drain_counting(40, "L")
    assert small == large
    assert Incident.objects.filter(team=team).count() == 43


def test_new_incidents_with_a_service_cost_the_same_queries_whatever_the_batch_size(team):
    factories.ServiceFactory(team=team, name="Checkout", slug="checkout")
    hook = create_integration(team=team, source="pagerduty")

    def drain_counting(count: int, prefix: str) -> int:
        for n in range(count):
            payload = pd("incident.triggered", n, f"Slow {n}")
            payload["event"]["data"]["id"] = f"{prefix}{n}"
            queue_pagerduty(hook, payload)
        with CaptureQueriesContext(connection) as captured:
            assert drain_inbox() == count
        return len(captured.captured_queries)

    assert drain_counting(2, "S") == drain_counting(30, "L")  # the service is looked up once per batch
    assert set(Incident.objects.filter(team=team).values_list("service__slug", flat=True)) == {"checkout"}
    assert Incident.objects.filter(team=team).count() == 32


def test_a_notification_is_applied_whole_or_not_at_all(team):
    hook = create_integration(team=team, source=Integration.Source.ALERTMANAGER)
    broken = notification("resolved")
    broken["alerts"][1]["endsAt"] = "2026-01-05T09:00:00.000Z"  # before it started: refused
    queue_alertmanager(hook, notification("firing", alerts=[0]))
    queue_alertmanager(hook, broken)
    queue_alertmanager(hook, notification("firing", alerts=[1]))
    assert drain_inbox() == 3
    outcomes = list(WebhookDelivery.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["processed", "failed", "processed"]
    failed = WebhookDelivery.objects.get(outcome="failed")
    assert "resolved_at" in failed.result["errors"]
    # The refused notification resolved neither alert, not even the valid one before the bad one.
    assert set(Incident.objects.filter(team=team).values_list("external_id", "status")) == {
        ("c4a5f6d1e2b3a4f5/20260105T100000Z", "open"),
        ("0a1b2c3d4e5f6a7b/20260105T100000Z", "open"),
    }


def test_the_audit_gets_one_entry_for_the_batch_naming_its_deliveries_and_incidents(team, other_team):
    hook = create_integration(team=team, source="generic")
    deliver(hook, incident_event(1, "AUD-1"))
    deliver(hook, incident_event(2, "AUD-1"))  # created then updated in the same batch
    deliver(hook, incident_event(1, "AUD-2"))
    deliver(hook, {"id": "evt-bad", "type": "incident", "data": {"external_id": "AUD-3", "severity": "SEV9"}})
    assert drain_inbox() == 4
    (entry,) = LogEntry.objects.filter(additional_data__team_id=team.pk)
    incidents = sorted(Incident.objects.filter(team=team).values_list("pk", flat=True))
    applied = list(WebhookDelivery.objects.filter(outcome="processed").order_by("id").values_list("pk", flat=True))
    assert (entry.object_pk, entry.action) == (str(hook.pk), LogEntry.Action.UPDATE)
    assert (entry.additional_data["deliveries"], entry.additional_data["incidents"]) == (applied, incidents)
    assert (
        entry.additional_data["reason"] == "Webhook generic JSON: 3 deliveries applied, 2 incidents created, 2 written"
    )
    assert not LogEntry.objects.filter(additional_data__team_id=other_team.pk).exists()
    page = Client()
    page.force_login(factories.MembershipFactory(team=team, role="lead").user)
    assert "3 deliveries applied, 2 incidents created" in page.get(f"/t/{team.slug}/audit/").content.decode()


def test_a_delivery_mapped_one_by_one_keeps_its_place_between_bulk_ones(team):
    hook = create_integration(team=team, source="generic")
    deliver(hook, incident_event(1, "MIX-1"))
    change = {"id": "chg-1", "type": "change", "data": {"external_id": "CHG-1", "title": "Deploy 42"}}
    change["data"]["deployed_at"] = "2026-01-01T09:00:00Z"
    deliver(hook, change)
    deliver(hook, incident_event(2, "MIX-1"))
    assert drain_inbox() == 3
    rows = list(WebhookDelivery.objects.order_by("id").values_list("outcome", "result"))
    assert [outcome for outcome, _result in rows] == ["processed"] * 3
    assert rows[1][1]["change"] == team.changes.get(external_id="CHG-1").pk
    assert Incident.objects.get(external_id="MIX-1").title == "Version 2"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_drain_leaves_an_incident_another_drain_holds_and_takes_the_rest(team):
    hook = create_integration(team=team, source="generic")
    for n in (1, 2):
        deliver(hook, incident_event(n, "HELD"))
    for n in range(5):
        deliver(hook, incident_event(1, f"FREE-{n}"))
    lock = processing.lock_key(team.pk, "generic", "HELD")
    # The incident HELD, locked as a drain applying it would.
    with another_drain_holding(lambda cursor: cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock])):
        assert drain_inbox(budget_seconds=5) == 5  # at once: no wait for the held incident
        assert set(WebhookDelivery.objects.filter(outcome="queued").values_list("vendor_delivery_id", flat=True)) == {
            "evt-HELD-1",
            "evt-HELD-2",
        }
        assert not Incident.objects.filter(external_id="HELD").exists()
    assert drain_inbox() == 2
    assert Incident.objects.get(external_id="HELD").title == "Version 2"  # in arrival order
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"processed"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_drains_share_one_busy_source_and_apply_each_delivery_once(team):
    hook = create_integration(team=team, source="generic")
    for n in range(60):  # 20 incidents, 3 events each, each carrying its time: the order rule orders them
        occurred_at = f"2026-01-01T10:0{n % 3}:00Z"
        deliver(hook, incident_event(1 + n % 3, f"BUSY-{n // 3}") | {"occurred_at": occurred_at})
    barrier, counts, errors = threading.Barrier(2), [], []

    def drain():
        try:
            barrier.wait()
            counts.append(drain_inbox(batch_size=7))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert drain_inbox() == 60 - sum(counts)  # what was left for the other drain, if it ended first
    assert WebhookDelivery.objects.filter(outcome="processed").count() == 60
    assert set(Incident.objects.filter(team=team).values_list("title", flat=True)) == {"Version 3"}
    assert Incident.objects.filter(team=team).count() == 20


def test_a_failed_delivery_re_applied_once_its_cause_is_fixed_is_processed(team):
    hook = create_integration(team=team, source="generic")
    ghost = factories.UserFactory(username="ghost")
    deliver(hook, incident_event(1, "RE-1", commander="ghost"))  # not a member of the team (yet)
    assert drain_inbox() == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "failed" and "commander" in delivery.result["errors"]
    assert not Incident.objects.exists()
    factories.MembershipFactory(team=team, user=ghost)
    again = processing.reapply_failed(delivery=delivery)
    assert again.outcome == "processed", again.result
    incident = Incident.objects.get(external_id="RE-1")
    assert (incident.commander, again.result) == (ghost, {"incident": incident.pk, "created": True})
    delivery.refresh_from_db()
    assert delivery.outcome == "processed"


def test_a_delivery_without_an_incident_id_fails_alone(team):
    hook = create_integration(team=team, source="pagerduty")
    queue_pagerduty(hook, pd("incident.triggered", 0, "Before"))
    blank = pd("incident.triggered", 1, "No id")
    blank["event"]["data"]["id"] = ""  # nothing to key the incident on
    blank["event"]["data"]["html_url"] = ""
    queue_pagerduty(hook, blank)
    queue_pagerduty(hook, pd("incident.acknowledged", 5, "After"))
    assert drain_inbox() == 3
    outcomes = list(WebhookDelivery.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["processed", "failed", "processed"]
    failed = WebhookDelivery.objects.get(outcome="failed")
    assert "external_id" in failed.result["errors"] and "external id" in failed.error
    assert Incident.objects.get(team=team).title == "After"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_delivery_without_its_event_time_waits_for_older_ones_another_drain_holds(team):
    hook = create_integration(team=team, source="generic")
    deliver(hook, incident_event(1, "ORDER"))  # no occurred_at: only arrival order orders them
    deliver(hook, incident_event(2, "ORDER"))
    deliver(hook, incident_event(1, "OTHER") | {"occurred_at": "2026-01-01T10:00:00Z"})
    first = WebhookDelivery.objects.order_by("id").first()
    # The oldest delivery, claimed by a drain in the middle of its batch.
    with another_drain_holding(lambda cursor: WebhookDelivery.objects.select_for_update().get(pk=first.pk)):
        assert drain_inbox(budget_seconds=5) == 1  # the timed delivery only
        assert set(WebhookDelivery.objects.filter(outcome="queued").values_list("vendor_delivery_id", flat=True)) == {
            "evt-ORDER-1",
            "evt-ORDER-2",
        }
    assert drain_inbox() == 2
    assert Incident.objects.get(external_id="ORDER").title == "Version 2"  # in arrival order
