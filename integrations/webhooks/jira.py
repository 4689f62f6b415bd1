"""Jira: jira:issue_created / jira:issue_updated → an incident (issue type “Incident”) or an action.

Signature: Jira Cloud admin webhooks with a secret send `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw
body>`, no time: a retry is the same signed body, so replays are refused by `X-Atlassian-Webhook-Identifier`
(the same on every retry), and an event whose `timestamp` (milliseconds) is older than
WEBHOOK_MAX_EVENT_AGE_DAYS is refused.
The Jira key is kept as external id; Jira owns the ticket, OpsKaizen the PDCA stage.
"""

import datetime as dt

from django.utils.translation import gettext as _

from improvement import services as improvement_services
from incidents import services as incident_services
from incidents.models import Incident
from integrations import mapping
from integrations.webhooks import (
    Ignored,
    body_signature,
    body_signature_matches,
    check_age,
    dig,
    malformed,
    parse_time,
    require_signature,
    text,
)

SIGNATURE_HEADER = "X-Hub-Signature"
EVENTS = ("jira:issue_created", "jira:issue_updated")
PRIORITY_SEVERITY = {"highest": "SEV1", "blocker": "SEV1", "high": "SEV2", "critical": "SEV2", "medium": "SEV3"}


sign = body_signature


def verify(headers, body: bytes, secret: str) -> None:
    require_signature(body_signature_matches(headers.get(SIGNATURE_HEADER, ""), secret, body))


def describe(headers, payload) -> tuple[str, str]:
    event = dig(payload, "webhookEvent", kind=str)
    millis = dig(payload, "timestamp", required=event in EVENTS, kind=int)
    if event in EVENTS:
        check_age(event_time(payload), "timestamp")
    delivery = headers.get("X-Atlassian-Webhook-Identifier", "")
    if not delivery and isinstance(payload.get("issue"), dict):
        delivery = f"{event}:{payload['issue'].get('id')}:{millis}"
    return event, delivery[:200]


def event_time(payload) -> dt.datetime:
    """When Jira says the event happened: the payload's `timestamp` (milliseconds)."""
    millis = dig(payload, "timestamp", kind=int)
    try:
        return dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)
    except (OverflowError, ValueError, OSError):
        raise malformed("timestamp is out of range", {"timestamp": ["Out of range."]}) from None


def _service_value(fields: dict) -> str:
    """What the service is read from: the issue's first component, else its project key."""
    components = fields.get("components")
    if isinstance(components, list) and components and isinstance(components[0], dict):
        name = text(components[0].get("name"), 200)
        if name:
            return name
    project = fields.get("project")
    return text(project.get("key"), 200) if isinstance(project, dict) else ""


def _severity(priority: str) -> str:
    return PRIORITY_SEVERITY.get(priority.lower(), "SEV4" if priority else "SEV3")


def mapping_values(event, payload) -> list[tuple]:
    """(component or project key, priority name, the default severity) for the mapping preview."""
    issue = payload.get("issue") if isinstance(payload.get("issue"), dict) else {}
    fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
    priority = fields.get("priority") if isinstance(fields.get("priority"), dict) else {}
    name = text(priority.get("name"), 40)
    return [(_service_value(fields), name, _severity(name))]


def _browse_url(issue: dict, key: str) -> str:
    link = issue.get("self")
    if isinstance(link, str) and "/rest/" in link:
        return f"{link.split('/rest/')[0]}/browse/{key}"[:500]
    return ""


def handle(integration, event, payload):
    if event not in EVENTS:
        return Ignored(_("Jira %(event)s events are not used.") % {"event": event})
    team = integration.team
    issue = dig(payload, "issue", kind=dict)
    key = dig(issue, "key", kind=str)[:200]
    fields = dig(issue, "fields", kind=dict)
    summary = text(dig(fields, "summary", kind=str), 200) or key
    issuetype = text(dig(fields, "issuetype", "name", required=False), 100)
    if "incident" in issuetype.lower():
        priority = text(dig(fields, "priority", "name", required=False), 40)
        created_at = parse_time(dig(fields, "created"), "issue.fields.created")
        resolved_at = parse_time(dig(fields, "resolutiondate", required=False), "issue.fields.resolutiondate")
        event_at = event_time(payload)  # order-safe: a late update never overwrites a newer one
        service = mapping.service_for(integration, _service_value(fields))
        incident, created = incident_services.upsert_incident_by_ref(
            **({"service": service} if service is not None else {}),
            team=team,
            source="jira",
            external_id=key,
            event_at=event_at,
            title=summary,
            severity=mapping.severity_for(integration, priority, _severity(priority)),
            started_at=created_at,
            detected_at=created_at,
            url=_browse_url(issue, key),
        )
        if resolved_at and incident.status not in (Incident.Status.RESOLVED, Incident.Status.CLOSED):
            incident = incident_services.set_incident_status(
                incident=incident, status=Incident.Status.RESOLVED, at=resolved_at, event_at=event_at
            )
        return {"incident": incident.pk, "created": created}
    action_fields = {"title": summary, "external_ticket": key}
    if not team.actions.filter(source="jira", external_id=key).exists():
        description = dig(fields, "description", required=False)
        action_fields["problem_statement"] = text(description, 10000)
    action, created = improvement_services.upsert_action_by_ref(
        team=team, source="jira", external_id=key, **action_fields
    )
    return {"action": action.pk, "created": created}
