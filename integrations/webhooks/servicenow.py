"""ServiceNow: an incident table record (as the Table API returns it) → an incident.

ServiceNow has no built-in signed webhooks: an outbound REST message from a business rule on the incident
table sends the record with `X-ServiceNow-Timestamp: <unix seconds>` and
`X-ServiceNow-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` (docs/integrations.md shows the script).
The incident number (INC…) is the external id; de-duplication uses sys_id + sys_mod_count.
"""

import base64
import hashlib
import hmac

from incidents.models import Incident
from integrations import mapping
from integrations.webhooks import Plan, check_fresh, malformed, parse_time, require_signature, text, unix_time
from integrations.webhooks.generic import verify_timestamped

TIMESTAMP_HEADER = "X-ServiceNow-Timestamp"
SIGNATURE_HEADER = "X-ServiceNow-Signature"
PRIORITY_SEVERITY = {"1": "SEV1", "2": "SEV2", "3": "SEV3", "4": "SEV4", "5": "SEV4"}
RESOLVED_STATES = {"6": Incident.Status.RESOLVED, "7": Incident.Status.CLOSED, "8": Incident.Status.CLOSED}


def verify(headers, body: bytes, secret: str) -> None:
    """Hex (as documented) or base64 (what GlideCertificateEncryption.generateMac returns) HMAC."""
    provided = headers.get(SIGNATURE_HEADER, "").removeprefix("sha256=").strip()
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    if provided and timestamp and len(provided) != 64:
        digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).digest()
        require_signature(hmac.compare_digest(base64.b64encode(digest), provided.encode()))
        check_fresh(unix_time(timestamp), "timestamp")
        return
    verify_timestamped(headers, body, secret, TIMESTAMP_HEADER, SIGNATURE_HEADER)


def _record(payload) -> dict:
    record = payload.get("result", payload) if isinstance(payload, dict) else None
    if not isinstance(record, dict):
        raise malformed("The body must be an incident record.")
    return record


def _value(record, name):
    """Table API fields are plain strings, or {"value", "display_value"} with sysparm_display_value=all."""
    value = record.get(name)
    if isinstance(value, dict):
        value = value.get("value")
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _ci_name(record) -> str:
    """The configuration item: its display value (sysparm_display_value=all), else its value."""
    ci = record.get("cmdb_ci")
    if isinstance(ci, dict):
        return text(ci.get("display_value"), 200) or text(ci.get("value"), 200)
    return text(ci, 200)


def mapping_values(event, payload) -> list[tuple]:
    """(configuration item, priority, the default severity) for the mapping preview."""
    record = payload.get("result", payload) if isinstance(payload, dict) else {}
    record = record if isinstance(record, dict) else {}
    priority = _value(record, "priority")
    return [(_ci_name(record), priority, PRIORITY_SEVERITY.get(priority, "SEV3"))]


def describe(headers, payload) -> tuple[str, str]:
    record = _record(payload)
    sys_id = _value(record, "sys_id")
    if not sys_id:
        raise malformed("Missing sys_id.", {"sys_id": ["This field is required."]})
    version = _value(record, "sys_mod_count") or _value(record, "sys_updated_on")
    return "incident", headers.get("X-ServiceNow-Delivery", f"{sys_id}:{version}")[:200]


def plan(integration, event, payload):
    record = _record(payload)
    number = text(_value(record, "number"), 200) or _value(record, "sys_id")[:200]
    opened_at = parse_time(_value(record, "opened_at"), "opened_at")
    if opened_at is None:
        raise malformed("Missing opened_at.", {"opened_at": ["This field is required."]})
    fields = {
        "title": text(_value(record, "short_description"), 200) or number,
        "summary": text(_value(record, "description"), 10000),
        "severity": mapping.severity_for(
            integration, _value(record, "priority"), PRIORITY_SEVERITY.get(_value(record, "priority"), "SEV3")
        ),
        "started_at": opened_at,
        "detected_at": opened_at,
    }
    service = mapping.service_for(integration, _ci_name(record))
    if service is not None:
        fields["service"] = service
    # Order-safe by the record's sys_updated_on: a late, older version overwrites nothing newer.
    row = {**fields, "external_id": number, "event_at": parse_time(_value(record, "sys_updated_on"), "sys_updated_on")}
    status = RESOLVED_STATES.get(_value(record, "state"))
    if status:  # forward only: a closed record stays closed
        at = parse_time(_value(record, "resolved_at") or _value(record, "closed_at"), "resolved_at")
        row["advance_to"] = (status, at)
    return Plan(source="servicenow", rows=[row])
