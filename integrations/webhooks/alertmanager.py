"""Prometheus Alertmanager (webhook_config, payload version 4): each alert, or each alert group, an incident.

Authentication: Alertmanager signs nothing. Its `http_config` sends either
`Authorization: Bearer <token>` (`authorization.credentials`) or `Authorization: Basic …`
(`basic_auth`, any user name, the token as password). The integration stores only the token's
SHA-256 digest ("sha256:<hex>" in `Integration.secret`, see integrations.services) and compares
digests in constant time; the token is shown once, when it is issued or rotated.

Mapping follows the integration's `grouping`, the lead's choice:
- per alert (default): the incident is keyed by the alert's `fingerprint` and its `startsAt`
  (external id `<fingerprint>/<startsAt, UTC, YYYYmmddTHHMMSSZ>`): repeated notifications of one
  firing update one incident, and the same alert firing again later opens a new one;
- per group: the group (`groupKey`) is one incident while any of its alerts fires; once it is
  resolved, the next firing opens a new one. The incident's fingerprint is `group:<digest of the key>`.
In both: firing opens an incident started (and detected) at `startsAt` (the earliest, for a group);
resolved resolves it at `endsAt` (the latest); title from annotation `summary`, else label
`alertname`; severity from label `severity` (critical/page → SEV1, error/high/major → SEV2,
warning → SEV3, info/low/minor → SEV4, or SEV1…SEV4 itself; otherwise SEV3, the highest alert's
for a group); service from label `service`, the team's service of that slug or name, ignoring case;
link: `generatorURL` when it is a valid URL. The fingerprint is kept on the incident (recurrence).
Order-safe: an alert's event time is `endsAt` when resolved and `startsAt` when firing (a group's:
the latest of its alerts'), so a firing notification that arrives after the resolved one does not
reopen the incident. Alertmanager sends no delivery id: the digest of the body de-duplicates an
identical re-send (a retry after a failed send, or a repeat_interval notification).
"""

import functools
import hashlib
import json

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

from incidents import services as incident_services
from incidents.models import Incident
from integrations import mapping
from integrations.models import Integration
from integrations.webhooks import (
    Ignored,
    Plan,
    authorization_secret,
    dig,
    malformed,
    parse_time,
    require_token,
    text,
    token_digest,  # noqa: F401 - the tests name it from here
)

EVENT = "alert"
SOURCE = "alertmanager"
OPEN_STATUSES = (Incident.Status.OPEN, Incident.Status.MITIGATED)
SEVERITY = {
    "critical": "SEV1",
    "page": "SEV1",
    "sev1": "SEV1",
    "error": "SEV2",
    "high": "SEV2",
    "major": "SEV2",
    "sev2": "SEV2",
    "warning": "SEV3",
    "medium": "SEV3",
    "sev3": "SEV3",
    "info": "SEV4",
    "low": "SEV4",
    "minor": "SEV4",
    "sev4": "SEV4",
}


def verify(headers, body: bytes, secret: str) -> None:
    message = _("The bearer token or basic-auth password is missing or does not match.")
    require_token(authorization_secret(headers), secret, message)


def _alerts(payload, version: str = "4") -> list[dict]:
    if payload.get("version") != version:
        raise malformed(
            _("Only webhook payload version %(version)s is understood.") % {"version": version},
            {"version": [_("Not %(version)s.") % {"version": version}]},
        )
    alerts = dig(payload, "alerts", kind=list)
    for position, alert in enumerate(alerts):
        where = f"alerts.{position}"
        if not isinstance(alert, dict):
            raise malformed(_("Each alert must be an object."), {where: [_("Wrong type.")]})
        for name in ("fingerprint", "status", "startsAt"):
            if not isinstance(alert.get(name), str) or not alert[name]:
                raise malformed(
                    _("Missing %(field)s.") % {"field": f"{where}.{name}"},
                    {f"{where}.{name}": [_("This field is required.")]},
                )
        if alert["status"] not in ("firing", "resolved"):
            raise malformed(_("An alert is firing or resolved."), {f"{where}.status": [_("Unknown status.")]})
        parse_time(alert["startsAt"], f"{where}.startsAt")
        if alert["status"] == "resolved":
            parse_time(alert.get("endsAt"), f"{where}.endsAt")
        for name in ("labels", "annotations"):
            if not isinstance(alert.get(name, {}), dict):
                raise malformed(_("Wrong type for %(field)s.") % {"field": f"{where}.{name}"})
    return alerts


def describe(headers, payload, version: str = "4") -> tuple[str, str]:
    """The envelope is checked here (a 400 to Alertmanager); the body's digest is the delivery id."""
    _alerts(payload, version)
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return EVENT, "sha256:" + hashlib.sha256(canonical).hexdigest()


def _severity(labels: dict) -> str:
    value = labels.get("severity")
    return SEVERITY.get(value.strip().lower(), "SEV3") if isinstance(value, str) else "SEV3"


def _mapped_severity(integration, labels: dict) -> str:
    return mapping.severity_for(integration, labels.get("severity"), _severity(labels))


def mapping_values(event, payload) -> list[tuple]:
    """Per alert: (label `service`, label `severity`, the default severity) for the mapping preview."""
    return [
        (text(labels.get("service"), 200), text(labels.get("severity"), 200), _severity(labels))
        for labels in ((alert.get("labels") or {}) for alert in payload.get("alerts") or [] if isinstance(alert, dict))
    ]


def _url(value) -> str:
    if not isinstance(value, str) or not value or len(value) > 500:
        return ""
    try:
        URLValidator()(value)
    except ValidationError:
        return ""  # Prometheus' own host name (http://prometheus:9090/…) is no public URL: left out
    return value


def external_id(alert: dict) -> str:
    starts_at = parse_time(alert["startsAt"], "startsAt")
    return f"{alert['fingerprint'][:150]}/{starts_at:%Y%m%dT%H%M%SZ}"


def _open_or_resolve(integration, source, *, ref, fingerprint, fields, labels, starts_at, ends_at, event_at):
    """Upsert the incident `ref` with `fields` (plus start, service from `labels` and fingerprint when
    new) and resolve it at `ends_at` when given; order-safe by `event_at`. Returns (incident, created)."""
    team = integration.team
    if not team.incidents.filter(source=source, external_id=ref).exists():
        fields = {
            **fields,
            "started_at": starts_at,
            "detected_at": starts_at,
            "fingerprint": fingerprint,
            "service": mapping.service_for(integration, labels.get("service")),
        }
    incident, created = incident_services.upsert_incident_by_ref(
        team=team, source=source, external_id=ref, event_at=event_at, **fields
    )
    if ends_at is not None and incident.status in OPEN_STATUSES:
        incident = incident_services.set_incident_status(
            incident=incident, status=Incident.Status.RESOLVED, at=ends_at, event_at=event_at
        )
    return incident, created


def _times(alert: dict):
    """(startsAt, endsAt when resolved else None, the alert's event time)."""
    starts_at = parse_time(alert["startsAt"], "startsAt")
    ends_at = parse_time(alert.get("endsAt"), "endsAt") if alert["status"] == "resolved" else None
    return starts_at, ends_at, ends_at or starts_at


def _title(labels: dict, annotations: dict, default: str) -> str:
    return text(annotations.get("summary"), 200) or text(labels.get("alertname"), 200) or default


def _new_alert_fields(integration, starts_at, fingerprint: str, labels: dict) -> dict:
    """What a new alert's incident starts with: its start, fingerprint (for recurrence) and mapped service."""
    return {
        "started_at": starts_at,
        "detected_at": starts_at,
        "fingerprint": fingerprint,
        "service": mapping.service_for(integration, labels.get("service")),
    }


def plan(integration, event, payload, *, source: str = SOURCE, version: str = "4"):
    """Each alert of a notification as one incident row (Grafana alerting sends the same shape, as version 1).

    With grouping by alert group, the group's current incident must be looked up first: handle() then.
    """
    alerts = _alerts(payload, version)
    if not alerts:
        return Ignored(_("The notification has no alert."))
    if integration.grouping == Integration.Grouping.GROUP:
        return None
    rows = []
    for alert in alerts:
        labels, annotations = alert.get("labels") or {}, alert.get("annotations") or {}
        starts_at, ends_at, event_at = _times(alert)
        row = {
            "external_id": external_id(alert),
            "event_at": event_at,
            "title": _title(labels, annotations, alert["fingerprint"]),
            "summary": text(annotations.get("description"), 10000),
            "severity": _mapped_severity(integration, labels),
            "url": _url(alert.get("generatorURL")),
            "if_new": functools.partial(_new_alert_fields, integration, starts_at, alert["fingerprint"][:200], labels),
        }
        if ends_at is not None:  # resolved at endsAt, unless it already is (or is closed)
            row["advance_to"] = (Incident.Status.RESOLVED, ends_at)
        rows.append(row)
    return Plan(source=source, rows=rows, many=True)


def handle(integration, event, payload, *, source: str = SOURCE, version: str = "4"):
    """An alert group's notification → the group's current incident (plan() maps the other grouping)."""
    alerts = _alerts(payload, version)
    if not alerts:
        return Ignored(_("The notification has no alert."))
    return _handle_group(integration, source, payload, alerts)


def group_fingerprint(payload) -> str:
    """The fingerprint of an alert group: a digest of its `groupKey` (receiver and grouping labels)."""
    key = dig(payload, "groupKey", kind=str)
    if not key:
        raise malformed(_("Missing %(field)s.") % {"field": "groupKey"}, {"groupKey": [_("This field is required.")]})
    return "group:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _handle_group(integration, source, payload, alerts):
    team = integration.team
    fingerprint = group_fingerprint(payload)
    times = [_times(alert) for alert in alerts]
    starts_at = min(start for start, _end, _at in times)
    event_at = max(at for _start, _end, at in times)
    resolved = all(alert["status"] == "resolved" for alert in alerts)
    ends_at = max(end for _start, end, _at in times) if resolved else None
    # The group's current incident, unless it was resolved before any of these alerts started: then
    # this is a new firing of the group (a late notification of the resolved one belongs to it).
    latest = (
        team.incidents.filter(source=source, fingerprint=fingerprint)
        .only("external_id", "status", "resolved_at")
        .order_by("-started_at", "-id")
        .first()
    )
    ongoing = latest is not None and latest.status in OPEN_STATUSES
    if ongoing or (latest is not None and latest.resolved_at and starts_at < latest.resolved_at):
        ref = latest.external_id
    else:
        ref = f"{fingerprint}/{starts_at:%Y%m%dT%H%M%SZ}"
    common_labels = payload.get("commonLabels") if isinstance(payload.get("commonLabels"), dict) else {}
    common_annotations = payload.get("commonAnnotations")
    common_annotations = common_annotations if isinstance(common_annotations, dict) else {}
    group_labels = payload.get("groupLabels") if isinstance(payload.get("groupLabels"), dict) else {}
    lines = [
        f"- {a['status']}: {_title(a.get('labels') or {}, a.get('annotations') or {}, a['fingerprint'])}"
        for a in alerts
    ]
    fields = {
        "title": _title({**common_labels, **group_labels}, common_annotations, fingerprint),
        "summary": text(common_annotations.get("description"), 5000) or text("\n".join(lines), 10000),
        "severity": min(_mapped_severity(integration, alert.get("labels") or {}) for alert in alerts),  # SEV1 < …
        "url": next((url for url in (_url(alert.get("generatorURL")) for alert in alerts) if url), ""),
    }
    incident, created = _open_or_resolve(
        integration,
        source,
        ref=ref,
        fingerprint=fingerprint,
        fields=fields,
        labels=common_labels,
        starts_at=starts_at,
        ends_at=ends_at,
        event_at=event_at,
    )
    return {"incidents": [incident.pk], "created": int(created)}
