"""Receive a delivery: verify → describe → store it queued (de-duplicated); the drain maps it.

The request does one INSERT after the checks, so a vendor's burst is absorbed at the cost of
a bare insert (bench/ingest_bench.py); the Celery task teams.drain_webhooks, nudged after the
commit and swept by beat, maps queued deliveries onto the domain in arrival order.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.serializers import as_serializer_error

from core import outage_log, tasks
from core.api.errors import flatten
from core.api.plumbing import parse_json_bytes
from core.cache import redis_client
from core.fault_hooks import pause_if_asked
from integrations.models import Integration, WebhookDelivery
from integrations.webhooks import (
    Ignored,
    Refused,
    alertmanager,
    generic,
    github,
    grafana,
    jira,
    malformed,
    opsgenie,
    pagerduty,
    servicenow,
)
from teams.selectors import only_row

logger = logging.getLogger("opskaizen.webhooks")

SOURCES = {
    Integration.Source.GENERIC: generic,
    Integration.Source.GITHUB: github,
    Integration.Source.JIRA: jira,
    Integration.Source.PAGERDUTY: pagerduty,
    Integration.Source.SERVICENOW: servicenow,
    Integration.Source.ALERTMANAGER: alertmanager,
    Integration.Source.GRAFANA: grafana,
    Integration.Source.OPSGENIE: opsgenie,
}
# Credentials never stored with a delivery (Opsgenie's token travels in a custom header).
STORED_HEADERS_SKIP = {"authorization", "cookie", "proxy-authorization", opsgenie.TOKEN_HEADER.lower()}
NUDGE_KEY = "opskaizen:webhook-drain-queued"
OUTCOME_FIELDS = ["outcome", "result", "error", "processed_at"]  # what applying a delivery writes
NUDGE_TTL = 5  # seconds: a lost nudge holds the next ones back at most this long
# Lets a fault test SIGKILL a real worker inside a batch (core/fault_hooks.py); unset in production.
DRAIN_PAUSE = "OPSKAIZEN_TEST_DRAIN_PAUSE"


class Outcome:
    def __init__(self, status: int, delivery: WebhookDelivery | None = None, body: dict | None = None):
        self.status, self.delivery, self.body = status, delivery, body or {}


def refuse(integration: Integration, refusal: Refused, remote: str = "") -> None:
    """A refused delivery leaves one log line and one body-less row, and nothing in the domain."""
    logger.warning(
        "refused webhook delivery: integration=%s source=%s code=%s reason=%s remote=%s",
        integration.public_id,
        integration.source,
        refusal.code,
        refusal.message,
        remote,
    )
    WebhookDelivery.objects.create(
        integration=integration,
        team_id=integration.team_id,
        outcome=WebhookDelivery.Outcome.REFUSED,
        error=f"{refusal.code}: {refusal.message}"[:1000],
    )


def receive(integration: Integration, headers, body: bytes, remote: str = "") -> Outcome:
    """Verify, describe and store the delivery as queued (one INSERT); the inbox drain applies it.

    Everything that decides whether the vendor's request is acceptable is checked here, so the
    vendor still gets its 4xx: signature, freshness, JSON, event and delivery id. Mapping onto the
    domain (and its refusals) happens in drain_inbox, whose outcome is recorded on the row.
    """
    source = SOURCES[integration.source]
    try:
        source.verify(headers, body, integration.secret)
        try:
            payload = parse_json_bytes(body)
        except ParseError as exc:
            raise malformed(str(exc.detail)) from None
        if not isinstance(payload, dict):
            raise malformed("The body must be a JSON object.")
        event, delivery_id = source.describe(headers, payload)
    except Refused as refusal:
        refuse(integration, refusal, remote)
        return Outcome(
            refusal.status, body={"code": refusal.code, "message": refusal.message, "errors": refusal.errors}
        )

    stored_headers = {k: v for k, v in headers.items() if k.lower() not in STORED_HEADERS_SKIP}
    delivery = WebhookDelivery(
        integration=integration,
        team_id=integration.team_id,
        vendor_delivery_id=delivery_id,
        event=event[:100],
        headers=stored_headers,
        body=body.decode("utf-8"),
        outcome=WebhookDelivery.Outcome.QUEUED,
    )
    try:
        if transaction.get_connection().in_atomic_block:
            # A savepoint, so that a refused duplicate leaves the caller's transaction usable.
            with transaction.atomic():
                delivery.save()
        else:
            delivery.save()  # autocommit: one INSERT, and a refused duplicate harms nothing
    except IntegrityError:
        # The vendor id is already queued or applied (a retry, or a concurrent copy).
        return _duplicate(delivery)
    transaction.on_commit(nudge_inbox)
    return Outcome(202, delivery, {"outcome": delivery.outcome, "delivery": delivery.pk})


def _duplicate(delivery: WebhookDelivery) -> Outcome:
    delivery.pk = None
    delivery.outcome = WebhookDelivery.Outcome.DUPLICATE
    delivery.result, delivery.error = {}, ""
    delivery.processed_at = timezone.now()
    delivery.save()
    return Outcome(200, delivery, {"outcome": delivery.outcome, "delivery": delivery.pk})


# --- The inbox drain ------------------------------------------------------------------


def nudge_inbox() -> None:
    """Queue a drain, at most one pending at a time when the cache is shared (Redis).

    The drain task clears the key when it starts, so a delivery stored while it runs queues
    the next one. A lost nudge only delays: the beat sweep (teams.drain_webhooks) runs anyway.
    """

    if shared_cache():
        try:
            claimed = claim_nudge()
        except Exception as exc:  # a cache that does not answer: nudge anyway, the broker decides
            outage_log.cache.failed(logger, "webhook drain nudge: cache unavailable: %s", exc)
        else:
            outage_log.cache.answered(logger)
            if not claimed:
                return
    tasks.enqueue("teams.drain_webhooks")


def release_nudge() -> None:
    """Let the next accepted delivery queue a drain (the drain task calls this when it starts)."""
    client = redis_client()
    if client is not None:
        client.delete(NUDGE_KEY)
    else:
        cache.delete(NUDGE_KEY)


def claim_nudge() -> bool:
    """Take the "a drain is queued" key; False when it is already taken."""
    client = redis_client()
    if client is not None:  # one SET NX EX round trip on the cache's Redis
        return bool(client.set(NUDGE_KEY, 1, nx=True, ex=NUDGE_TTL))
    return cache.add(NUDGE_KEY, 1, timeout=NUDGE_TTL)


def shared_cache() -> bool:
    """True when every process sees the same cache; the default local-memory cache is per process."""
    return not settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")


def drain_inbox(*, budget_seconds: float = 20.0, batch_size: int = 100) -> int:
    """Apply queued deliveries, oldest first, until none is left or the budget is spent; returns how many.

    Each batch takes one integration's row lock (skip_locked: drains running in parallel take
    other integrations), so one integration's deliveries apply one at a time in arrival order.
    A batch is one transaction: a drain killed mid-batch applies nothing of it, and the next
    drain applies it whole.
    """
    applied = 0
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        done = _drain_batch(batch_size)
        if not done:
            break
        applied += done
    return applied


def _drain_batch(batch_size: int) -> int:
    queued = (
        WebhookDelivery.objects.filter(outcome=WebhookDelivery.Outcome.QUEUED)
        .values("integration_id")
        .annotate(oldest=Min("id"))
        .order_by("oldest")
    )
    for row in queued:  # every integration with queued deliveries, until one is not held by another drain
        with transaction.atomic():
            integration = only_row(
                Integration.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("team")
                .filter(pk=row["integration_id"])
            )
            if integration is None:
                continue  # another drain holds it
            deliveries = list(
                WebhookDelivery.objects.filter(
                    integration=integration, outcome=WebhookDelivery.Outcome.QUEUED
                ).order_by("id")[:batch_size]
            )
            for position, delivery in enumerate(deliveries):
                delivery.integration = integration
                apply_delivery(delivery)
                if position == 0 and len(deliveries) > 1:
                    pause_if_asked(DRAIN_PAUSE, "mid_batch")  # fault tests only: half a batch applied, uncommitted
            if deliveries:
                return len(deliveries)
    return 0


def apply_delivery(delivery: WebhookDelivery) -> WebhookDelivery:
    """Map one stored delivery onto the domain and record its outcome; never raises for bad data."""
    try:
        return process(delivery)
    except Refused as refusal:
        errors = refusal.errors or {}
        outcome_error = "; ".join([f"{refusal.code}: {refusal.message}", _error_text(errors)])
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        # A body shaped in a way the mapping did not foresee: failed, never a crash of the drain.
        logger.exception("webhook mapping failed on an unexpected shape (delivery %s)", delivery.pk)
        outcome_error = f"malformed: Unexpected payload shape: {exc.__class__.__name__}"
        errors = {}
    delivery.outcome = WebhookDelivery.Outcome.FAILED
    delivery.result = {"errors": errors}
    delivery.error = outcome_error[:5000]
    delivery.processed_at = timezone.now()
    delivery.save(update_fields=OUTCOME_FIELDS)
    return delivery


def reapply_failed(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Apply a failed delivery again, once its cause is fixed (a lead's “Re-apply”); returns it with its new outcome."""
    return reapply(delivery=delivery, outcomes=(WebhookDelivery.Outcome.FAILED,))


def reapply(*, delivery: WebhookDelivery, outcomes) -> WebhookDelivery:
    """Apply a stored delivery again when its outcome is one of `outcomes` (the lead's page: failed;
    the admin's “Re-process”: any applied one). Never a queued one: that is the drain's.

    The integration's row lock keeps this in step with the drain; the delivery is re-read under it,
    so a double submit applies it once and the second gets the refusal.
    """
    with transaction.atomic():
        integration = (
            Integration.objects.select_for_update(of=("self",)).select_related("team").get(pk=delivery.integration_id)
        )
        current = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        if current.outcome not in outcomes or not current.body:
            raise ValidationError(
                _("Only a failed delivery can be applied again; this one is %(outcome)s.")
                % {"outcome": current.get_outcome_display()}
            )
        current.integration = integration
        return apply_delivery(current)


def process(delivery: WebhookDelivery) -> WebhookDelivery:
    """Map a stored delivery onto the domain; also the admin's “re-process”.

    Domain writes and the delivery's outcome commit together; a domain refusal rolls the writes
    back and stores the delivery as failed, with the fields at fault.
    """
    source = SOURCES[delivery.integration.source]
    payload = parse_json_bytes(delivery.body.encode("utf-8"))
    try:
        with transaction.atomic():
            result = source.handle(delivery.integration, delivery.event, payload)
            if result is None or isinstance(result, Ignored):
                reason = getattr(result, "reason", "") or _("The %(event)s event is not used.") % {
                    "event": delivery.event or "?"
                }
                delivery.outcome = WebhookDelivery.Outcome.IGNORED
                delivery.result, delivery.error = {"ignored": reason}, reason[:5000]
            else:
                delivery.outcome = WebhookDelivery.Outcome.PROCESSED
                delivery.result, delivery.error = result, ""
            delivery.processed_at = timezone.now()
            delivery.save(update_fields=OUTCOME_FIELDS)
    except ValidationError as exc:
        errors = flatten(as_serializer_error(exc))
        delivery.outcome = WebhookDelivery.Outcome.FAILED
        delivery.result = {"errors": errors}
        delivery.error = _error_text(errors)[:5000]
        delivery.processed_at = timezone.now()
        delivery.save(update_fields=OUTCOME_FIELDS)
    return delivery


def _error_text(errors: dict) -> str:
    return "; ".join(f"{field}: {' '.join(map(str, messages))}" for field, messages in errors.items())
