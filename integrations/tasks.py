"""Celery tasks of the teams app: delivering outgoing webhooks from the outbox (OutgoingDelivery).

- ``deliver_webhook(id)``: the nudge queued after the commit; retried with exponential backoff.
- ``teams.dispatch_outgoing`` (beat, every minute): sends the rows whose nudge was lost (broker
  down at publish time, worker killed mid-task, retry message lost) once they are due.
- ``teams.drain_webhooks`` (nudged after each accepted incoming delivery, and beat every 30 s):
  applies the queued incoming deliveries (integrations.webhooks.processing.drain_inbox).
- ``teams.prune_deliveries`` (beat, hourly): deletes the webhook logs past their retention
  (teams/retention.py).

Both claim a row with a conditional UPDATE before the POST (pending, due, and not claimed by a
live sender), so two senders never POST the same row at the same time. A sender killed mid-POST
leaves a claim that expires after OPSKAIZEN_WEBHOOK_LEASE_SECONDS; the row is then sent again
with the same event id: delivery is at-least-once, receivers de-duplicate on the event id.
"""

import datetime as dt
import http.client
import logging
import time

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError
from django.db.models import F, Q
from django.utils import timezone

from core import egress
from integrations import retention
from integrations.models import OutgoingDelivery
from integrations.outgoing import SIGNATURE_HEADER, TIMESTAMP_HEADER, encode, sign
from integrations.webhooks import processing

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6


def timeout_seconds() -> int:
    return getattr(settings, "OPSKAIZEN_WEBHOOK_TIMEOUT", 10)


def lease_seconds() -> int:
    # Longer than one POST can take, so a live sender's claim never expires under it.
    return max(getattr(settings, "OPSKAIZEN_WEBHOOK_LEASE_SECONDS", 120), timeout_seconds() + 1)


def backoff(attempt: int) -> int:
    """Seconds before the next try: 30 s, 1 min, 2 min, 4 min, 8 min."""
    return 30 * 2 ** (attempt - 1)


def claim(delivery_id: int, *, due_only: bool = False) -> OutgoingDelivery | None:
    """Take the row for one attempt, or None when it is delivered, given up, or held by a live sender.

    One conditional UPDATE: of two senders racing for the same row, exactly one changes it.
    The attempt is counted at claim time, so an attempt killed mid-POST is counted too.
    """
    now = timezone.now()
    rows = OutgoingDelivery.objects.filter(pk=delivery_id, status=OutgoingDelivery.Status.PENDING).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    if due_only:
        rows = rows.filter(next_attempt_at__lte=now)
    if not rows.update(claimed_until=now + dt.timedelta(seconds=lease_seconds()), attempts=F("attempts") + 1):
        return None
    return OutgoingDelivery.objects.select_related("endpoint").get(pk=delivery_id)


def post(delivery: OutgoingDelivery) -> tuple[int | None, str, bool]:
    """POST the event, signed; (HTTP status or None, error text, whether trying again is pointless).

    The URL is checked again right before the request (core.egress): a host that now resolves
    to an internal address is refused, and a redirect is never followed; both are final.
    """
    body = encode(delivery.payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "OpsKaizen-Webhooks/1",
        "X-OpsKaizen-Event": delivery.event,
        "X-OpsKaizen-Delivery": str(delivery.event_id),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(delivery.endpoint.secret, timestamp, body),
    }
    try:
        answer = egress.post(delivery.endpoint.url, body=body, headers=headers, timeout=timeout_seconds())
    except egress.UnsafeURL as exc:
        return None, f"refused: {exc.reason}", True
    except (OSError, http.client.HTTPException) as exc:
        return None, (str(exc) or type(exc).__name__)[:1000], False
    return answer.status, "" if answer.ok else answer.describe(), answer.redirect


def attempt(delivery: OutgoingDelivery) -> str:
    """Send a claimed row once and record the outcome on it: delivered, retry (pending) or failed."""
    status_code, error, final = post(delivery)
    mine = OutgoingDelivery.objects.filter(pk=delivery.pk, status=OutgoingDelivery.Status.PENDING)
    if status_code is not None and 200 <= status_code < 300:
        mine.update(
            status=OutgoingDelivery.Status.DELIVERED,
            last_status_code=status_code,
            last_error="",
            delivered_at=timezone.now(),
            claimed_until=None,
        )
        return "delivered"
    gave_up = final or delivery.attempts >= MAX_ATTEMPTS
    mine.update(
        status=OutgoingDelivery.Status.FAILED if gave_up else OutgoingDelivery.Status.PENDING,
        last_status_code=status_code,
        last_error=error,
        claimed_until=None,
        next_attempt_at=timezone.now() + dt.timedelta(seconds=backoff(delivery.attempts)),
    )
    logger.warning("outgoing webhook %s attempt %s failed: %s", delivery.event_id, delivery.attempts, error)
    return "failed" if gave_up else "retry"


# Named as when it lived in teams/tasks.py: messages queued before an upgrade still find it.
@shared_task(
    name="teams.tasks.deliver_webhook", bind=True, acks_late=True, max_retries=MAX_ATTEMPTS - 1, ignore_result=True
)
def deliver_webhook(self, delivery_id: int) -> str:
    """POST one event to one endpoint; retried with exponential backoff, every attempt logged on the row."""
    delivery = claim(delivery_id)
    if delivery is None:
        return "skipped"  # delivered, given up, or being sent by another sender: a duplicate changes nothing
    outcome = attempt(delivery)
    if outcome == "retry":
        raise self.retry(countdown=backoff(delivery.attempts))
    return outcome


def dispatch_pending(*, limit: int = 100, budget_seconds: float = 45.0) -> dict[str, int]:
    """Send the due rows of the outbox (lost nudges, stuck claims, due retries); counts per outcome."""
    started = time.monotonic()
    counts: dict[str, int] = {}
    due = (
        OutgoingDelivery.objects.filter(status=OutgoingDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=timezone.now()))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in list(due):
        if time.monotonic() - started > budget_seconds:
            break  # the next run (a minute later) takes the rest
        delivery = claim(pk, due_only=True)
        outcome = attempt(delivery) if delivery is not None else "skipped"
        counts[outcome] = counts.get(outcome, 0) + 1
    if counts:
        logger.info("outgoing dispatch: %s", counts)
    return counts


@shared_task(name="teams.dispatch_outgoing", acks_late=True, ignore_result=True)
def dispatch_outgoing() -> dict[str, int]:
    return dispatch_pending()


@shared_task(
    name="teams.drain_webhooks",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def drain_webhooks() -> int:
    """Apply queued incoming webhook deliveries (nudged after each accepted delivery; beat sweeps too).

    Clearing the nudge key first means a delivery stored from now on queues the next drain.
    A drain killed mid-batch commits nothing of that batch; the redelivered task applies it.
    """
    processing.release_nudge()
    return processing.drain_inbox(budget_seconds=settings.OPSKAIZEN_WEBHOOK_DRAIN_SECONDS)


# Per log and run: 200 batches of WEBHOOK_PRUNE_BATCH_SIZE rows; a larger backlog takes a few runs.
PRUNE_MAX_BATCHES = 200


@shared_task(name="teams.prune_deliveries", acks_late=True, ignore_result=True)
def prune_deliveries() -> dict[str, int]:
    return retention.prune_deliveries(max_batches=PRUNE_MAX_BATCHES)
