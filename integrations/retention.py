"""How long the webhook logs are kept: old rows are deleted in small batches (beat, or cron).

- incoming deliveries (``WebhookDelivery``, refused ones included) received more than
  ``WEBHOOK_RETENTION_DAYS`` ago, except queued ones, which are still to apply, and the ones
  whose vendor delivery id still de-duplicates retries: those are kept at least
  ``WEBHOOK_MAX_EVENT_AGE_DAYS`` + 1 day (the oldest event a body-only signer may still send is
  refused by age after that, so a replay of it is refused either way);
- outgoing deliveries (``OutgoingDelivery``) delivered or given up and created more than
  ``WEBHOOK_RETENTION_DAYS`` ago; a pending row is never deleted, however old: it is still to send;
- ``Idempotency-Key`` records older than the 24 hours the API promises to keep them.

``WEBHOOK_RETENTION_DAYS=0`` keeps the deliveries forever (the keys still go after 24 hours).
Each batch is one ``DELETE … WHERE id IN (SELECT id … LIMIT n)`` in its own short transaction,
so pruning a large backlog never holds long locks; beat's run stops after a bounded number of
batches and the next run goes on.
"""

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from integrations.models import OutgoingDelivery, WebhookDelivery
from teams.models import IdempotencyKey

logger = logging.getLogger(__name__)

FINISHED = (OutgoingDelivery.Status.DELIVERED, OutgoingDelivery.Status.FAILED)


def dedupe_horizon() -> dt.timedelta:
    """How long a delivery id must stay known: the maximum event age, and a day for the senders' clocks."""
    return dt.timedelta(days=settings.WEBHOOK_MAX_EVENT_AGE_DAYS + 1)


def prunable(*, now: dt.datetime | None = None) -> dict[str, QuerySet]:
    """The rows past their retention, per log (none of the deliveries when retention is 0)."""
    now = now or timezone.now()
    rows = {}
    days = settings.WEBHOOK_RETENTION_DAYS
    if days > 0:
        cutoff = now - dt.timedelta(days=days)
        # The ids that refuse a vendor's retry as a duplicate outlive the oldest event still accepted.
        key_cutoff = min(cutoff, now - dedupe_horizon())
        is_dedupe_key = ~Q(vendor_delivery_id="") & Q(outcome__in=WebhookDelivery.FIRST_OUTCOMES)
        # A queued delivery is still to apply, however old (a drain that was down for days).
        rows["incoming"] = (
            WebhookDelivery.objects.filter(received_at__lt=cutoff)
            .exclude(outcome=WebhookDelivery.Outcome.QUEUED)
            .exclude(is_dedupe_key & Q(received_at__gte=key_cutoff))
        )
        rows["outgoing"] = OutgoingDelivery.objects.filter(status__in=FINISHED, created_at__lt=cutoff)
    rows["idempotency_keys"] = IdempotencyKey.objects.filter(created_at__lt=now - IdempotencyKey.TTL)
    return rows


def delete_in_batches(rows: QuerySet, *, batch_size: int, max_batches: int | None = None) -> int:
    """Delete `rows` `batch_size` at a time, one statement per batch; how many were deleted."""
    deleted = batches = 0
    while max_batches is None or batches < max_batches:
        batch = rows.model.objects.filter(pk__in=rows.order_by().values("pk")[:batch_size])
        count, _by_model = batch.delete()
        deleted += count
        batches += 1
        if count < batch_size:
            break
    return deleted


def prune_deliveries(
    *, now: dt.datetime | None = None, batch_size: int | None = None, max_batches: int | None = None
) -> dict[str, int]:
    """Delete the webhook log rows past their retention; the count deleted per log.

    `max_batches` bounds the work per log in one run (None: until nothing is left).
    """
    batch_size = batch_size or settings.WEBHOOK_PRUNE_BATCH_SIZE
    counts = {
        name: delete_in_batches(rows, batch_size=batch_size, max_batches=max_batches)
        for name, rows in prunable(now=now).items()
    }
    if any(counts.values()):
        logger.info("pruned webhook logs: %s", counts)
    return counts
