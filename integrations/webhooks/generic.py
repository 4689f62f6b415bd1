"""The documented generic JSON format (any CI pipeline or home-made tool).

Headers: `X-OpsKaizen-Timestamp: <unix seconds>` and
`X-OpsKaizen-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`.
Body: {"id": "<unique delivery id>", "type": "incident" | "change" | "action",
       "occurred_at": "optional ISO 8601: when the event happened (incidents: order-safe updates)",
       "data": {"external_id": "...", "source": "optional, default generic", ...fields as in the API}}
The envelope (type, data, external_id) is checked when the delivery arrives (400 if wrong); the
data is then validated by the same serializers as `PUT /api/v1/<type>s/by-ref/…` and upserted
by the inbox drain, which records a refusal as a failed delivery with the fields at fault.
"""

from django.utils.translation import gettext as _

from core.signing import timestamped_signature
from integrations.webhooks import (
    Plan,
    check_fresh,
    dig,
    malformed,
    parse_time,
    require_signature,
    signature_matches,
    unix_time,
)

TIMESTAMP_HEADER = "X-OpsKaizen-Timestamp"
SIGNATURE_HEADER = "X-OpsKaizen-Signature"


# sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">, the scheme every outgoing webhook and the generic hook use.
sign = timestamped_signature


def verify_timestamped(headers, body: bytes, secret: str, ts_header: str, sig_header: str) -> None:
    timestamp = headers.get(ts_header, "")
    provided = headers.get(sig_header, "")
    require_signature(bool(timestamp and provided))
    expected = sign(secret, timestamp, body)
    require_signature(signature_matches(expected.removeprefix("sha256="), provided.removeprefix("sha256=")))
    check_fresh(unix_time(timestamp), "timestamp")


def verify(headers, body: bytes, secret: str) -> None:
    verify_timestamped(headers, body, secret, TIMESTAMP_HEADER, SIGNATURE_HEADER)


TYPES = ("incident", "change", "action")


def describe(headers, payload) -> tuple[str, str]:
    """The type and delivery id; the envelope's shape is checked here, so a bad one is a 400 to the sender."""
    kind = dig(payload, "type", kind=str)
    if kind not in TYPES:
        raise malformed(_("Unknown type: use incident, change or action."), {"type": [_("Unknown type.")]})
    data = dig(payload, "data", kind=dict)
    external_id = dig(data, "external_id", kind=str)
    source = dig(data, "source", required=False, kind=str) or "generic"
    if not external_id or len(external_id) > 200 or len(source) > 40:
        raise malformed(_("external_id (≤ 200) and source (≤ 40) are needed."), {"external_id": [_("Invalid.")]})
    parse_time(dig(payload, "occurred_at", required=False), "occurred_at")  # a bad one is a 400 now
    delivery_id = dig(payload, "id", required=False)
    return kind, str(delivery_id or headers.get("X-OpsKaizen-Delivery", ""))[:200]


def _validated(integration, event, payload) -> tuple[dict, str, str]:
    """(the validated fields, the source, the external id) of a delivery's `data`, by-ref serializer rules."""
    from rest_framework.exceptions import ValidationError as DRFValidationError

    from core.api.errors import flatten
    from improvement.api import ActionByRefSerializer
    from incidents.api import IncidentByRefSerializer
    from incidents.api_changes import ChangeByRefSerializer

    serializers = {
        "incident": IncidentByRefSerializer,
        "change": ChangeByRefSerializer,
        "action": ActionByRefSerializer,
    }
    data = payload["data"]  # describe() checked the envelope before the delivery was accepted
    body = {k: v for k, v in data.items() if k not in ("external_id", "source", "team")}
    # One serializer per event type for the integration's batch (its fields bound once): run_validation
    # is what is_valid() runs, without building the fields again for every delivery.
    validators = integration.__dict__.setdefault("_generic_serializers", {})
    if event not in validators:
        validators[event] = serializers[event](partial=True, context={"team": integration.team})
    try:
        validated = validators[event].run_validation(body)
    except DRFValidationError as exc:
        raise malformed(_("The data has invalid fields."), flatten(exc.detail)) from None
    return dict(validated), data.get("source") or "generic", data["external_id"]


def plan(integration, event, payload):
    """An incident event as one bulk row (the drain's batch); changes and actions go through handle()."""
    if event != "incident":
        return None
    fields, source, external_id = _validated(integration, event, payload)
    # With the envelope's occurred_at, a late or out-of-order delivery overwrites nothing newer.
    event_at = parse_time(payload.get("occurred_at"), "occurred_at")
    return Plan(source=source, rows=[{**fields, "external_id": external_id, "event_at": event_at}])


def handle(integration, event, payload):
    from improvement import services as improvement_services
    from improvement.api import split_links
    from incidents import services as incident_services

    fields, source, external_id = _validated(integration, event, payload)
    team = integration.team
    if event == "change":
        obj, created = incident_services.upsert_change_by_ref(
            team=team, source=source, external_id=external_id, **fields
        )
    else:
        fields, links = split_links(fields)
        obj, created = improvement_services.upsert_action_by_ref(
            team=team, source=source, external_id=external_id, links=links, **fields
        )
    return {event: obj.pk, "created": created}
