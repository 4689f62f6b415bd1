"""Receive a delivery: verify → describe → de-duplicate → map in one transaction → store raw with its outcome."""

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ParseError
from rest_framework.serializers import as_serializer_error

from teams.api.errors import flatten
from teams.api.plumbing import parse_json_bytes
from teams.models import Integration, WebhookDelivery
from teams.webhooks import Refused, generic, github, jira, malformed, pagerduty, servicenow

logger = logging.getLogger("opskaizen.webhooks")

SOURCES = {
    Integration.Source.GENERIC: generic,
    Integration.Source.GITHUB: github,
    Integration.Source.JIRA: jira,
    Integration.Source.PAGERDUTY: pagerduty,
    Integration.Source.SERVICENOW: servicenow,
}
STORED_HEADERS_SKIP = {"authorization", "cookie", "proxy-authorization"}


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
    )
    if delivery_id and _already_seen(integration, delivery_id):
        return _duplicate(delivery)
    try:
        process(delivery)
    except Refused as refusal:
        refuse(integration, refusal, remote)
        return Outcome(
            refusal.status, body={"code": refusal.code, "message": refusal.message, "errors": refusal.errors}
        )
    except IntegrityError:
        # The same delivery was processed concurrently: ours was rolled back.
        return _duplicate(delivery)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        # A body shaped in a way the mapping did not foresee: refused as malformed, never a 500.
        logger.exception("webhook mapping failed on an unexpected shape")
        refusal = malformed(f"Unexpected payload shape: {exc.__class__.__name__}")
        refuse(integration, refusal, remote)
        return Outcome(refusal.status, body={"code": refusal.code, "message": refusal.message, "errors": {}})
    if delivery.outcome == WebhookDelivery.Outcome.FAILED:
        return Outcome(
            422,
            delivery,
            {"code": "rejected", "message": "The delivery breaks a rule.", "errors": delivery.result.get("errors", {})},
        )
    return Outcome(200, delivery, {"outcome": delivery.outcome, "delivery": delivery.pk, "result": delivery.result})


def _already_seen(integration, delivery_id) -> bool:
    return WebhookDelivery.objects.filter(
        integration=integration, vendor_delivery_id=delivery_id, outcome__in=WebhookDelivery.FIRST_OUTCOMES
    ).exists()


def _duplicate(delivery: WebhookDelivery) -> Outcome:
    delivery.pk = None
    delivery.outcome = WebhookDelivery.Outcome.DUPLICATE
    delivery.result, delivery.error = {}, ""
    delivery.processed_at = timezone.now()
    delivery.save()
    return Outcome(200, delivery, {"outcome": delivery.outcome, "delivery": delivery.pk})


def process(delivery: WebhookDelivery) -> WebhookDelivery:
    """Map a stored (or about to be stored) delivery onto the domain; also the admin's “re-process”.

    Domain writes and the delivery row commit together; a domain refusal rolls the writes
    back and stores the delivery as failed, with the fields at fault.
    """
    source = SOURCES[delivery.integration.source]
    payload = parse_json_bytes(delivery.body.encode("utf-8"))
    try:
        with transaction.atomic():
            result = source.handle(delivery.integration, delivery.event, payload)
            delivery.outcome = WebhookDelivery.Outcome.PROCESSED if result else WebhookDelivery.Outcome.IGNORED
            delivery.result, delivery.error = result or {}, ""
            delivery.processed_at = timezone.now()
            delivery.save()
    except ValidationError as exc:
        errors = flatten(as_serializer_error(exc))
        delivery.outcome = WebhookDelivery.Outcome.FAILED
        delivery.result = {"errors": errors}
        delivery.error = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())[:5000]
        delivery.processed_at = timezone.now()
        delivery.save()
    return delivery
