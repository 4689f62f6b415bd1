"""PagerDuty v3 webhooks: incident.triggered / acknowledged / resolved → incident timestamps.

Signature: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>`, possibly several comma-separated
while a secret is rotated (one match suffices), no time: PagerDuty retries the same signed body for up to
48 hours, so replays are refused by `event.id` (the same on every retry), and an event whose
`event.occurred_at` is older than WEBHOOK_MAX_EVENT_AGE_DAYS is refused.
"""

from django.utils.translation import gettext as _

from incidents.models import Incident
from integrations import mapping
from integrations.webhooks import (
    Ignored,
    Plan,
    body_signature,
    body_signature_matches,
    check_age,
    dig,
    parse_time,
    require_signature,
    text,
)

SIGNATURE_HEADER = "X-PagerDuty-Signature"
EVENTS = ("incident.triggered", "incident.acknowledged", "incident.resolved")
PRIORITY_SEVERITY = {"P1": "SEV1", "P2": "SEV2", "P3": "SEV3", "P4": "SEV4", "P5": "SEV4"}


def sign(secret: str, body: bytes) -> str:
    return body_signature(secret, body, prefix="v1=")


def verify(headers, body: bytes, secret: str) -> None:
    """Several `v1=` signatures while a secret is rotated: one match is enough."""
    provided = headers.get(SIGNATURE_HEADER, "").split(",")
    require_signature(any(body_signature_matches(part, secret, body, prefix="v1=") for part in provided))


def describe(headers, payload) -> tuple[str, str]:
    event = dig(payload, "event", "event_type", kind=str)
    delivery = dig(payload, "event", "id")
    if event in EVENTS:
        occurred_at = dig(payload, "event", "occurred_at", required=False)
        check_age(parse_time(occurred_at, "event.occurred_at"), "event.occurred_at")
    return event, str(delivery)[:200]


def _severity_value(data: dict) -> str:
    """What the severity is read from: the priority's name (P1…P5) when set, else the urgency."""
    priority = data.get("priority")
    if isinstance(priority, dict) and isinstance(priority.get("summary"), str) and priority["summary"].strip():
        return priority["summary"][:40]
    return text(data.get("urgency"), 40)


def _severity(data: dict) -> str:
    value = _severity_value(data)
    severity = PRIORITY_SEVERITY.get(value.upper())
    if severity:
        return severity
    return "SEV2" if value == "high" else "SEV3"


def mapping_values(event, payload) -> list[tuple]:
    """(service summary, priority or urgency, the default severity) for the mapping preview."""
    event_body = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    data = event_body.get("data") if isinstance(event_body.get("data"), dict) else {}
    service = data.get("service") if isinstance(data.get("service"), dict) else {}
    return [(text(service.get("summary"), 200), _severity_value(data), _severity(data))]


def plan(integration, event, payload):
    if event not in EVENTS:
        return Ignored(_("PagerDuty %(event)s events are not used.") % {"event": event})
    data = dig(payload, "event", "data", kind=dict)
    occurred_at = parse_time(dig(payload, "event", "occurred_at"), "event.occurred_at")
    external_id = text(dig(data, "id", kind=str), 200)
    # Some payloads (older webhook versions, a few event types) carry no data.created_at: the event's time then.
    created_at = parse_time(dig(data, "created_at", required=False), "event.data.created_at") or occurred_at
    service_name = text(dig(data, "service", "summary", required=False), 100)

    def if_new() -> dict:
        service = mapping.service_for(integration, service_name)
        return {"started_at": created_at, "detected_at": created_at, **({"service": service} if service else {})}

    # Order-safe by occurred_at: a late or out-of-order event (a triggered after the resolved) overwrites nothing newer.
    row = {
        "external_id": external_id,
        "event_at": occurred_at,
        "title": text(dig(data, "title", required=False), 200) or external_id,
        "severity": mapping.severity_for(integration, _severity_value(data), _severity(data)),
        "url": text(dig(data, "html_url", required=False), 500),
        "if_new": if_new,
    }
    if event == "incident.acknowledged":
        row["if_unset"] = {"acknowledged_at": occurred_at}
    if event == "incident.resolved":
        row["advance_to"] = (Incident.Status.RESOLVED, occurred_at)
    return Plan(source="pagerduty", rows=[row])
