"""Webhook logs are pruned: old incoming and finished outgoing deliveries, expired keys; never pending ones."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations import retention, tasks
from integrations.models import Integration, OutgoingDelivery, OutgoingWebhook, WebhookDelivery
from teams.models import IdempotencyKey

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=30, seconds=1)  # just past the default 30 days
RECENT = NOW - dt.timedelta(days=29, hours=23)


@pytest.fixture
def integration(team):
    return Integration.objects.create(team=team, source=Integration.Source.GENERIC)


@pytest.fixture
def endpoint(team):
    return OutgoingWebhook.objects.create(team=team, url="https://hooks.example.com/okz")


def incoming(integration, received_at, outcome="processed", n=1) -> list[int]:
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(integration=integration, team_id=integration.team_id, outcome=outcome, body="{}")
        for _ in range(n)
    )
    ids = [row.pk for row in rows]
    WebhookDelivery.objects.filter(pk__in=ids).update(received_at=received_at)  # auto_now_add, set afterwards
    return ids


def outgoing(endpoint, created_at, status="delivered") -> int:
    row = OutgoingDelivery.objects.create(endpoint=endpoint, event="action.moved", status=status)
    OutgoingDelivery.objects.filter(pk=row.pk).update(created_at=created_at)
    return row.pk


def idempotency_key(created_at, key) -> int:
    row = IdempotencyKey.objects.create(owner="token:1", key=key, fingerprint="f", status_code=201)
    IdempotencyKey.objects.filter(pk=row.pk).update(created_at=created_at)
    return row.pk


def test_incoming_deliveries_older_than_the_retention_go_unless_still_queued(integration):
    applied = [outcome for outcome in WebhookDelivery.Outcome.values if outcome != "queued"]
    old = [pk for outcome in applied for pk in incoming(integration, OLD, outcome)]
    old_queued = incoming(integration, OLD, "queued")  # still to apply, however old
    kept = [pk for outcome in WebhookDelivery.Outcome.values for pk in incoming(integration, RECENT, outcome)]
    counts = retention.prune_deliveries(now=NOW)
    assert counts["incoming"] == len(old) == 5
    assert sorted(WebhookDelivery.objects.values_list("pk", flat=True)) == sorted(kept + old_queued)


def test_finished_outgoing_deliveries_go_and_pending_ones_stay_however_old(endpoint):
    outgoing(endpoint, OLD, "delivered")
    outgoing(endpoint, OLD, "failed")
    pending = outgoing(endpoint, NOW - dt.timedelta(days=400), "pending")
    recent = outgoing(endpoint, RECENT, "delivered")
    assert retention.prune_deliveries(now=NOW)["outgoing"] == 2
    assert sorted(OutgoingDelivery.objects.values_list("pk", flat=True)) == sorted([pending, recent])


def test_idempotency_keys_go_after_the_24_hours_the_api_promises(db):
    idempotency_key(NOW - dt.timedelta(hours=24, seconds=1), "expired")
    kept = idempotency_key(NOW - dt.timedelta(hours=23, minutes=59), "live")
    assert retention.prune_deliveries(now=NOW)["idempotency_keys"] == 1
    assert list(IdempotencyKey.objects.values_list("pk", flat=True)) == [kept]


def test_the_retention_is_a_setting(integration, endpoint, settings):
    settings.WEBHOOK_RETENTION_DAYS = 7
    gone = incoming(integration, NOW - dt.timedelta(days=8))
    kept = incoming(integration, NOW - dt.timedelta(days=6))
    outgoing(endpoint, NOW - dt.timedelta(days=8))
    assert retention.prune_deliveries(now=NOW) == {"incoming": 1, "outgoing": 1, "idempotency_keys": 0}
    assert not WebhookDelivery.objects.filter(pk__in=gone).exists()
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == kept


def test_delivery_ids_outlive_a_short_retention_until_the_oldest_accepted_event(integration, settings):
    """A retry of a body-signed delivery is refused by its id, so the id is kept past the vendors' horizon."""
    settings.WEBHOOK_RETENTION_DAYS, settings.WEBHOOK_MAX_EVENT_AGE_DAYS = 1, 7
    keys = {}
    for age in (dt.timedelta(days=3), dt.timedelta(days=7, hours=23), dt.timedelta(days=8, seconds=1)):
        row = WebhookDelivery.objects.create(
            integration=integration, team_id=integration.team_id, outcome="processed", vendor_delivery_id=str(age)
        )
        WebhookDelivery.objects.filter(pk=row.pk).update(received_at=NOW - age)
        keys[age.days] = row.pk
    without_id = incoming(integration, NOW - dt.timedelta(days=3))  # nothing to de-duplicate: retention applies
    refused = incoming(integration, NOW - dt.timedelta(days=3), "refused")
    assert retention.prune_deliveries(now=NOW)["incoming"] == 3
    assert sorted(WebhookDelivery.objects.values_list("pk", flat=True)) == [keys[3], keys[7]]
    assert not WebhookDelivery.objects.filter(pk__in=without_id + refused + [keys[8]]).exists()


def test_a_retention_of_zero_keeps_the_deliveries_but_not_the_expired_keys(integration, endpoint, settings):
    settings.WEBHOOK_RETENTION_DAYS = 0
    incoming(integration, NOW - dt.timedelta(days=900))
    outgoing(endpoint, NOW - dt.timedelta(days=900))
    idempotency_key(NOW - dt.timedelta(days=2), "expired")
    assert retention.prune_deliveries(now=NOW) == {"idempotency_keys": 1}
    assert (WebhookDelivery.objects.count(), OutgoingDelivery.objects.count()) == (1, 1)


def test_rows_are_deleted_in_batches_of_one_statement_each(integration):
    incoming(integration, OLD, n=7)
    kept = incoming(integration, RECENT)
    rows = retention.prunable(now=NOW)["incoming"]
    with CaptureQueriesContext(connection) as queries:
        assert retention.delete_in_batches(rows, batch_size=3) == 7
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 3  # 3 + 3 + 1: the short batch says nothing is left
    assert all(sql.startswith("DELETE") and "LIMIT 3" in sql for sql in statements)
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == kept


def test_a_run_stops_after_its_batch_budget_and_the_next_run_goes_on(integration):
    incoming(integration, OLD, n=7)
    assert retention.prune_deliveries(now=NOW, batch_size=2, max_batches=2)["incoming"] == 4
    assert WebhookDelivery.objects.count() == 3
    assert retention.prune_deliveries(now=NOW, batch_size=2, max_batches=2)["incoming"] == 3
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("backlog", [2, 40])
def test_the_number_of_statements_does_not_grow_with_rows_that_fit_one_batch(integration, endpoint, backlog):
    incoming(integration, OLD, n=backlog)
    for _ in range(backlog):
        outgoing(endpoint, OLD)
    with CaptureQueriesContext(connection) as queries:
        counts = retention.prune_deliveries(now=NOW, batch_size=100)
    assert counts == {"incoming": backlog, "outgoing": backlog, "idempotency_keys": 0}
    assert len(queries.captured_queries) == 3  # one DELETE per log


def test_beat_prunes_every_hour_through_the_task(integration, settings):
    entry = settings.CELERY_BEAT_SCHEDULE["prune-deliveries"]
    assert entry["task"] == tasks.prune_deliveries.name == "teams.prune_deliveries"
    assert entry["schedule"].minute == {17} and len(entry["schedule"].hour) == 24
    incoming(integration, dt.datetime.now(dt.UTC) - dt.timedelta(days=31))
    assert tasks.prune_deliveries() == {"incoming": 1, "outgoing": 0, "idempotency_keys": 0}
    assert not WebhookDelivery.objects.exists()


def test_the_management_command_prunes_for_cron_users(integration, endpoint):
    now = dt.datetime.now(dt.UTC)
    incoming(integration, now - dt.timedelta(days=31), n=5)
    kept = incoming(integration, now - dt.timedelta(days=1))
    outgoing(endpoint, now - dt.timedelta(days=31), "failed")
    pending = outgoing(endpoint, now - dt.timedelta(days=31), "pending")
    out = io.StringIO()
    call_command("prune_deliveries", "--batch-size", "2", stdout=out)
    assert out.getvalue().strip() == "deleted 5 incoming delivery(ies), 1 outgoing delivery(ies), 0 idempotency key(s)"
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == kept
    assert list(OutgoingDelivery.objects.values_list("pk", flat=True)) == [pending]
