"""Receive a delivery: verify → describe → store it queued (de-duplicated); the drain maps it.

The request does one INSERT after the checks, so a vendor's burst is absorbed at the cost of
a bare insert (bench/ingest_bench.py); the Celery task teams.drain_webhooks, nudged after the
commit and swept by beat, maps queued deliveries onto the domain in arrival order.
"""

import hashlib
import json
import logging
import time

from auditlog.models import LogEntry
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.serializers import as_serializer_error

from core import outage_log, tasks
from core.api.errors import flatten
from core.api.plumbing import parse_json_bytes
from core.cache import redis_client
from core.fault_hooks import pause_if_asked
from incidents import bulk
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
# Deliveries per batch: one transaction, one lookup of their incidents, bulk writes.
BATCH_SIZE = 250
# A body shaped in a way the mapping did not foresee: the delivery fails, never the drain.
SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, OverflowError)
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


def drain_inbox(*, budget_seconds: float = 20.0, batch_size: int = BATCH_SIZE) -> int:
    """Apply queued deliveries, oldest first, until none is left or the budget is spent; returns how many.

    A batch is the queued deliveries of one integration, oldest first, claimed row by row with
    SKIP LOCKED: drains running in parallel (several worker processes) take other deliveries of
    the same busy source instead of waiting. It is applied in bulk (`apply_deliveries`) under a
    lock per incident, and is one transaction: a drain killed mid-batch applies nothing of it, and
    the next drain applies it whole.
    """
    applied = 0
    passed: set[int] = set()  # held back since the last batch that applied anything
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        claimed, done = _drain_batch(batch_size, passed)
        if not claimed:
            break
        if done:  # progress: what was held back may be free now, and is the oldest again
            passed.clear()
        applied += done
    return applied


def _drain_batch(batch_size: int, passed: set[int]) -> tuple[int, int]:
    """(deliveries claimed, deliveries applied) of one batch; (0, 0) when no queued delivery is free."""
    queued = WebhookDelivery.objects.filter(outcome=WebhookDelivery.Outcome.QUEUED).exclude(pk__in=passed)
    with transaction.atomic():
        head = next(iter(queued.select_for_update(skip_locked=True).order_by("id").only("integration_id")[:1]), None)
        if head is None:
            return 0, 0
        integration = Integration.objects.select_related("team").get(pk=head.integration_id)
        deliveries = list(
            queued.filter(integration=integration).select_for_update(skip_locked=True).order_by("id")[:batch_size]
        )
        applied, held = apply_deliveries(integration, deliveries)
        passed.update(held)
        return len(deliveries), applied


ONE_BY_ONE = object()  # a delivery its source maps through handle(), not as bulk rows
DONE = object()  # a delivery whose outcome (ignored, failed) was settled while planning it


def apply_deliveries(integration: Integration, deliveries: list, *, wait: bool = False) -> tuple[int, list[int]]:
    """Apply `deliveries` of `integration` in order, in bulk; returns (how many applied, the ids held back).

    Each delivery is planned (its source's plan(): incident rows, or ignored, or failed), then the
    incidents it writes are locked (a PostgreSQL advisory lock per team + source + external id;
    `wait=False`: a delivery whose incident another drain holds is held back, left queued; so is
    one without its event's time while another drain holds older deliveries of the source). The
    rows of consecutive planned deliveries are applied together (incidents.bulk: one lookup,
    bulk writes, one audit INSERT, recurrence for the batch); a delivery its source maps one by
    one (handle()) is applied in its place in the order. Outcomes are written with one UPDATE.
    """
    planner = getattr(SOURCES[integration.source], "plan", None)
    steps = []
    for delivery in deliveries:
        delivery.integration = integration
        steps.append((delivery, _plan(delivery, planner)))
    if not wait:
        # Queued deliveries of this source older than one of the batch's are held by another drain (or
        # held back): a delivery after them goes first only if it carries its event's time (the order
        # rule orders it); the others wait for their turn. Decided before locking anything for them.
        outside = _oldest_queued_outside(integration, deliveries)
        steps_to_lock = [(d, step) for d, step in steps if outside is None or d.pk < outside or _timed(step)]
    else:
        steps_to_lock = steps
    free = _lock_incidents(integration, steps_to_lock, wait=wait)
    if len(deliveries) > 1:
        pause_if_asked(DRAIN_PAUSE, "mid_batch")  # fault tests only: a batch under way, uncommitted
    held = [delivery.pk for delivery, _step in steps if delivery.pk not in free]
    planned, settled = [], []
    for delivery, step in steps:
        if delivery.pk not in free:
            continue
        if step is ONE_BY_ONE:
            settled += _apply_planned(integration, planned)  # what comes before it, first
            planned = []
            apply_delivery(delivery)  # writes its own outcome
        elif step is DONE:
            settled.append(delivery)
        else:
            planned.append((delivery, step))
    settled += _apply_planned(integration, planned)
    _write_outcomes(settled)
    return len(steps) - len(held), held


def _write_outcomes(deliveries: list[WebhookDelivery]) -> None:
    """Record the outcomes of `deliveries` with one UPDATE.

    On PostgreSQL, one UPDATE … FROM unnest(arrays): Django's bulk_update builds a CASE per
    column and row, whose compilation cost more than applying the deliveries (bench/drain_bench.py).
    """
    if not deliveries:
        return
    if connection.vendor != "postgresql":
        WebhookDelivery.objects.bulk_update(deliveries, OUTCOME_FIELDS, batch_size=BATCH_SIZE)
        return
    table = WebhookDelivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} AS d SET outcome = v.outcome, result = v.result, error = v.error,
                       processed_at = v.processed_at
                FROM unnest(%s::bigint[], %s::text[], %s::jsonb[], %s::text[], %s::timestamptz[])
                     AS v(id, outcome, result, error, processed_at)
                WHERE d.id = v.id""",  # noqa: S608 - the table name is the model's, the values are parameters
            [
                [d.pk for d in deliveries],
                [d.outcome for d in deliveries],
                [json.dumps(d.result, cls=DjangoJSONEncoder) for d in deliveries],
                [d.error for d in deliveries],
                [d.processed_at for d in deliveries],
            ],
        )


def _oldest_queued_outside(integration: Integration, deliveries: list) -> int | None:
    """The id of the oldest queued delivery of `integration` older than one of `deliveries` but not
    among them (held by another drain, or held back by this one), or None."""
    ids = [delivery.pk for delivery in deliveries]
    return (
        WebhookDelivery.objects.filter(integration=integration, outcome=WebhookDelivery.Outcome.QUEUED, pk__lt=max(ids))
        .exclude(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )


def _timed(step) -> bool:
    """Whether applying the step out of arrival order is safe: it writes nothing, or only with its event's time."""
    if step is DONE:
        return True
    return step is not ONE_BY_ONE and all(row.get("event_at") is not None for row in step.rows)


def _plan(delivery: WebhookDelivery, planner):
    """The delivery's Plan, ONE_BY_ONE, or DONE with its outcome (ignored or failed) set on it, unsaved."""
    if planner is None:
        return ONE_BY_ONE
    try:
        plan = planner(delivery.integration, delivery.event, parse_json_bytes(delivery.body.encode("utf-8")))
    except Refused as refusal:
        _set_failed(delivery, refusal.errors or {}, _refusal_text(refusal))
        return DONE
    except ValidationError as exc:
        errors = flatten(as_serializer_error(exc))
        _set_failed(delivery, errors, _error_text(errors))
        return DONE
    except SHAPE_ERRORS as exc:
        logger.exception("webhook mapping failed on an unexpected shape (delivery %s)", delivery.pk)
        _set_failed(delivery, {}, f"malformed: Unexpected payload shape: {exc.__class__.__name__}")
        return DONE
    if plan is None:
        return ONE_BY_ONE
    if isinstance(plan, Ignored):
        _set_ignored(delivery, plan.reason)
        return DONE
    return plan


def _apply_planned(integration: Integration, planned: list) -> list[WebhookDelivery]:
    """Write the rows of planned deliveries in bulk, per source; set each delivery's outcome (unsaved)."""
    by_source: dict[str, list] = {}
    for delivery, plan in planned:
        by_source.setdefault(plan.source, []).append((delivery, plan))
    settled = []
    for source, items in by_source.items():
        units = bulk.upsert_incident_units(
            team=integration.team, source=source, units=[plan.rows for _delivery, plan in items]
        )
        for (delivery, plan), outcomes in zip(items, units, strict=True):
            refused = next((outcome for outcome in outcomes if outcome.errors), None)
            if refused is None:
                delivery.outcome = WebhookDelivery.Outcome.PROCESSED
                delivery.result, delivery.error = plan.result(outcomes), ""
                delivery.processed_at = timezone.now()
            else:
                errors = (
                    flatten(as_serializer_error(refused.exception))
                    if refused.exception is not None
                    else {name: [str(message)] for name, message in refused.errors.items()}
                )
                _set_failed(delivery, errors, _error_text(errors))
            settled.append(delivery)
    _audit_batch(integration, settled)
    return settled


def _audit_batch(integration: Integration, settled: list[WebhookDelivery]) -> None:
    """One audit entry for the deliveries a batch applied in bulk: which, and the incidents they wrote.

    Each delivery stays in the delivery log with its body and result; the entry tells the team's
    audit log when the source wrote what, without one entry (and one INSERT) per incident.
    """
    applied = [d for d in settled if d.outcome == WebhookDelivery.Outcome.PROCESSED]
    if not applied:
        return
    incidents = sorted({pk for d in applied for pk in d.result.get("incidents", [d.result.get("incident")]) if pk})
    created = sum(int(d.result.get("created", 0)) for d in applied)
    LogEntry.objects.log_create(
        integration,
        force_log=True,
        action=LogEntry.Action.UPDATE,
        additional_data={
            "team_id": integration.team_id,
            "reason": _(
                "Webhook %(source)s: %(count)d deliveries applied, %(created)d incidents created, %(written)d written"
            )
            % {
                "source": integration.get_source_display(),
                "count": len(applied),
                "created": created,
                "written": len(incidents),
            },
            "deliveries": [d.pk for d in applied],
            "incidents": incidents,
        },
    )


def lock_key(team_id: int, source: str, external_id: str) -> int:
    """The advisory lock key (a signed 64-bit int) of one incident: team, source and external id."""
    digest = hashlib.blake2b(f"{team_id}\x00{source}\x00{external_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_incidents(integration: Integration, steps: list, *, wait: bool) -> set[int]:
    """The ids of the deliveries whose incidents this transaction now holds (all of them off PostgreSQL)."""
    keys = {}
    for delivery, step in steps:
        if step is ONE_BY_ONE:  # what it writes is known only once applied: it holds its whole integration
            keys[delivery.pk] = {lock_key(integration.team_id, "integration", str(integration.pk))}
        elif step is DONE:
            keys[delivery.pk] = set()
        else:
            keys[delivery.pk] = {lock_key(integration.team_id, step.source, row["external_id"]) for row in step.rows}
    wanted = sorted(set().union(*keys.values())) if keys else []
    if not wanted or connection.vendor != "postgresql":
        return set(keys)
    with connection.cursor() as cursor:
        if wait:  # in key order, so two waiting drains never wait for each other
            cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k ORDER BY k", [wanted])
            got = set(wanted)
        else:
            cursor.execute("SELECT k FROM unnest(%s::bigint[]) AS k WHERE pg_try_advisory_xact_lock(k)", [wanted])
            got = {row[0] for row in cursor.fetchall()}
    return {pk for pk, needed in keys.items() if needed <= got}


def _set_failed(delivery: WebhookDelivery, errors: dict, text: str) -> None:
    delivery.outcome = WebhookDelivery.Outcome.FAILED
    delivery.result, delivery.error = {"errors": errors}, text[:5000]
    delivery.processed_at = timezone.now()


def _set_ignored(delivery: WebhookDelivery, reason: str) -> None:
    reason = reason or _("The %(event)s event is not used.") % {"event": delivery.event or "?"}
    delivery.outcome = WebhookDelivery.Outcome.IGNORED
    delivery.result, delivery.error = {"ignored": reason}, reason[:5000]
    delivery.processed_at = timezone.now()


def apply_delivery(delivery: WebhookDelivery) -> WebhookDelivery:
    """Map one stored delivery through its source's handle() and record its outcome; never raises for bad data."""
    try:
        return process(delivery)
    except Refused as refusal:
        errors, outcome_error = refusal.errors or {}, _refusal_text(refusal)
    except SHAPE_ERRORS as exc:
        # A body shaped in a way the mapping did not foresee: failed, never a crash of the drain.
        logger.exception("webhook mapping failed on an unexpected shape (delivery %s)", delivery.pk)
        outcome_error = f"malformed: Unexpected payload shape: {exc.__class__.__name__}"
        errors = {}
    _set_failed(delivery, errors, outcome_error)
    delivery.save(update_fields=OUTCOME_FIELDS)
    return delivery


def reapply_failed(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Apply a failed delivery again, once its cause is fixed (a lead's “Re-apply”); returns it with its new outcome."""
    return reapply(delivery=delivery, outcomes=(WebhookDelivery.Outcome.FAILED,))


def reapply(*, delivery: WebhookDelivery, outcomes) -> WebhookDelivery:
    """Apply a stored delivery again when its outcome is one of `outcomes` (the lead's page: failed;
    the admin's “Re-process”: any applied one). Never a queued one: that is the drain's.

    The delivery is re-read under its row lock, so a double submit applies it once and the second
    gets the refusal; it waits for the incidents it writes, should a drain hold them.
    """
    with transaction.atomic():
        current = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("integration__team")
            .get(pk=delivery.pk)
        )
        if current.outcome not in outcomes or not current.body:
            raise ValidationError(
                _("Only a failed delivery can be applied again; this one is %(outcome)s.")
                % {"outcome": current.get_outcome_display()}
            )
        apply_deliveries(current.integration, [current], wait=True)
        return current


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
                _set_ignored(delivery, getattr(result, "reason", ""))
            else:
                delivery.outcome = WebhookDelivery.Outcome.PROCESSED
                delivery.result, delivery.error = result, ""
                delivery.processed_at = timezone.now()
            delivery.save(update_fields=OUTCOME_FIELDS)
    except ValidationError as exc:
        errors = flatten(as_serializer_error(exc))
        _set_failed(delivery, errors, _error_text(errors))
        delivery.save(update_fields=OUTCOME_FIELDS)
    return delivery


def _refusal_text(refusal: Refused) -> str:
    return "; ".join([f"{refusal.code}: {refusal.message}", _error_text(refusal.errors or {})])


def _error_text(errors: dict) -> str:
    return "; ".join(f"{field}: {' '.join(map(str, messages))}" for field, messages in errors.items())
