"""Opsgenie outgoing webhooks (the Webhook integration's alert actions): Create / Acknowledge / Close.

Authentication: Opsgenie signs nothing; its Webhook integration sends the custom headers the
lead adds. The integration issues a random token, sent as `X-OpsKaizen-Token: <token>`; only its
SHA-256 digest is stored and compared in constant time (as Alertmanager's bearer token). The
header is never stored with the delivery.

Payload (Opsgenie's "alert action data"): `action` and an `alert` object with `alertId`,
`alias`, `message`, `tinyId`, `entity`, `tags`, `createdAt` (epoch milliseconds) and `updatedAt`
(epoch nanoseconds in the published examples; seconds, milliseconds or microseconds are read by
their size), `priority` (P1–P5) when Opsgenie includes it, `description` on Create only.

- Create → an incident keyed by `alertId` (the external id), started and detected at `createdAt`,
  title `message`, severity from `priority` (P1 → SEV1 … P4/P5 → SEV4, else SEV3), the alias kept
  as the fingerprint (recurrence), service from `entity` (a service's slug or name, ignoring case);
- Acknowledge → acknowledged at `updatedAt`; Close → resolved at `updatedAt`;
- any other action (AddNote, AssignOwnership, AddTeam, UnAcknowledge, Delete, custom actions…) is
  recorded ignored, with the action named.

Order-safe by `updatedAt` (the action's own time): a Create that arrives after the Close does not
reopen. Replays: the delivery id is `<alertId>:<action>:<updatedAt>`, the same on every retry,
and an action whose `updatedAt` is older than WEBHOOK_MAX_EVENT_AGE_DAYS is refused.
Any action may arrive first: each carries `createdAt`, so the incident is opened with its start.

Opsgenie *incidents*: the Webhook integration posts alert actions only, and Opsgenie publishes no
incident payload for it. An Opsgenie incident notifies its responders through *responder alerts*,
ordinary alerts whose actions this hook receives like any other; closing the incident closes
them, deleting it deletes them, and its *associated alerts* (the alerts it was created from) keep
their own state (Atlassian, "Close or delete an incident"). The alert action data names no
incident, so each alert that reaches the hook, responder or associated, is its own incident here,
keyed by its `alertId`. Its Delete is recorded ignored and the incident kept as it is. Routing
(Atlassian, "Outgoing integration triggers for team routings"): a global integration gets Create
once and AddTeam when another team is added (ignored); a team's integration gets Create when its
team is added, with the alert's own `createdAt`, so the incident still starts at the alert's start.
"""

import datetime as dt

from django.utils.translation import gettext as _

from incidents import services as incident_services
from incidents.models import Incident
from integrations import mapping
from integrations.webhooks import Ignored, check_age, dig, malformed, require_token, text

TOKEN_HEADER = "X-OpsKaizen-Token"  # noqa: S105 - a header name, not a secret
SOURCE = "opsgenie"
ACTIONS = ("Create", "Acknowledge", "Close")
PRIORITY_SEVERITY = {"P1": "SEV1", "P2": "SEV2", "P3": "SEV3", "P4": "SEV4", "P5": "SEV4"}


def verify(headers, body: bytes, secret: str) -> None:
    message = _("The %(header)s header is missing or does not match.") % {"header": TOKEN_HEADER}
    require_token(headers.get(TOKEN_HEADER, "").strip(), secret, message)


def epoch(value, field: str) -> dt.datetime:
    """An Opsgenie epoch time, whatever its unit: seconds, milliseconds, microseconds or nanoseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise malformed(_("Not a timestamp."), {field: [_("Not a timestamp.")]})
    seconds = float(value)
    while seconds > 1e11:  # later than the year 5138 in seconds: a finer unit
        seconds /= 1000
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, ValueError, OSError):
        raise malformed(_("Not a timestamp."), {field: [_("Not a timestamp.")]}) from None


def _alert(payload) -> dict:
    alert = dig(payload, "alert", kind=dict)
    if not isinstance(alert.get("alertId"), str) or not alert["alertId"].strip():
        raise malformed(
            _("Missing %(field)s.") % {"field": "alert.alertId"}, {"alert.alertId": [_("This field is required.")]}
        )
    return alert


def describe(headers, payload) -> tuple[str, str]:
    action = dig(payload, "action", kind=str)
    alert = _alert(payload)
    updated = dig(payload, "alert", "updatedAt", required=action in ACTIONS)
    if action in ACTIONS:
        epoch(dig(payload, "alert", "createdAt"), "alert.createdAt")
        check_age(epoch(updated, "alert.updatedAt"), "alert.updatedAt")
    return action[:100], f"{alert['alertId'][:100]}:{action[:40]}:{updated}"[:200]


def _severity(priority: str) -> str:
    return PRIORITY_SEVERITY.get(priority.strip().upper(), "SEV3")


def mapping_values(event, payload) -> list[tuple]:
    """(entity, priority, the default severity) for the mapping preview."""
    alert = payload.get("alert") if isinstance(payload.get("alert"), dict) else {}
    priority = text(alert.get("priority"), 40)
    return [(text(alert.get("entity"), 200), priority, _severity(priority))]


def handle(integration, event, payload):
    if event == "Delete":  # also what deleting an Opsgenie incident sends for its responder alerts
        return Ignored(_("Opsgenie Delete actions are not used: the incident is kept as it is."))
    if event not in ACTIONS:
        return Ignored(_("Opsgenie %(action)s actions are not used.") % {"action": event})
    alert = _alert(payload)
    team = integration.team
    external_id = alert["alertId"][:200]
    created_at = epoch(alert.get("createdAt"), "alert.createdAt")
    event_at = epoch(alert.get("updatedAt"), "alert.updatedAt")
    fields = {"title": text(alert.get("message"), 200).strip() or text(alert.get("tinyId"), 200) or external_id}
    priority = text(alert.get("priority"), 40)
    if priority:
        fields["severity"] = mapping.severity_for(integration, priority, _severity(priority))
    if event == "Create" and text(alert.get("description"), 10000):
        fields["summary"] = text(alert.get("description"), 10000)
    if not team.incidents.filter(source=SOURCE, external_id=external_id).exists():
        fields.update(
            started_at=created_at,
            detected_at=created_at,
            fingerprint=text(alert.get("alias"), 200),
            service=mapping.service_for(integration, alert.get("entity")),
        )
    incident, created = incident_services.upsert_incident_by_ref(
        team=team, source=SOURCE, external_id=external_id, event_at=event_at, **fields
    )
    if event == "Acknowledge" and incident.acknowledged_at is None:
        incident = incident_services.update_incident(
            incident=incident, acknowledged_at=max(event_at, incident.detected_at), event_at=event_at
        )
    if event == "Close" and incident.status in (Incident.Status.OPEN, Incident.Status.MITIGATED):
        incident = incident_services.set_incident_status(
            incident=incident,
            status=Incident.Status.RESOLVED,
            at=max(event_at, incident.detected_at),
            event_at=event_at,
        )
    return {"incident": incident.pk, "created": created}
