"""Prometheus Alertmanager (webhook_config, payload version 4): each alert → one incident.

Authentication: Alertmanager signs nothing; its `http_config.authorization` sends
`Authorization: Bearer <token>`. The integration stores only the token's SHA-256 digest
("sha256:<hex>" in `Integration.secret`, see integrations.services) and compares digests in
constant time; the token is shown once, when it is issued or rotated.

Mapping, per alert (a notification carries its group's alerts, firing and resolved mixed):
- the incident is keyed by the alert's `fingerprint` and its `startsAt`
  (external id `<fingerprint>/<startsAt, UTC, YYYYmmddTHHMMSSZ>`): repeated notifications of
  one firing update one incident, and the same alert firing again later opens a new one;
- firing → an open incident started (and detected) at `startsAt`; resolved → resolved at `endsAt`;
- title: annotation `summary`, else label `alertname`; summary: annotation `description`;
- severity: label `severity` (critical/page → SEV1, error/high/major → SEV2, warning → SEV3,
  info/low/minor → SEV4, or SEV1…SEV4 itself; otherwise SEV3);
- service: label `service`, the team's service of that slug or name, ignoring case;
- link: the alert's `generatorURL` when it is a valid URL.
Order-safe: the event time is `endsAt` for a resolved alert and `startsAt` for a firing one, so
a firing notification that arrives after the resolved one does not reopen the incident.
Alertmanager sends no delivery id: the digest of the body de-duplicates an identical re-send.
"""

import hashlib
import hmac
import json

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import Q
from django.utils.text import slugify
from django.utils.translation import gettext as _

from incidents import services as incident_services
from incidents.models import Incident
from integrations.webhooks import Ignored, Refused, dig, malformed, parse_time, text

DIGEST_PREFIX = "sha256:"
EVENT = "alert"
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


def token_digest(token: str) -> str:
    """What the integration stores for a bearer token."""
    return DIGEST_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def verify(headers, body: bytes, secret: str) -> None:
    scheme, _space, token = headers.get("Authorization", "").strip().partition(" ")
    provided = token_digest(token.strip()) if scheme.lower() == "bearer" and token.strip() else ""
    # Both sides are digests of the same length: the comparison takes the same time wherever they differ.
    if not provided or not secret.startswith(DIGEST_PREFIX) or not hmac.compare_digest(provided, secret):
        raise Refused(401, "invalid_token", _("The bearer token is missing or does not match."))


def _alerts(payload) -> list[dict]:
    version = payload.get("version")
    if version != "4":
        raise malformed(_("Only Alertmanager webhook payload version 4 is understood."), {"version": [_("Not 4.")]})
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


def describe(headers, payload) -> tuple[str, str]:
    """The envelope is checked here (a 400 to Alertmanager); the body's digest is the delivery id."""
    _alerts(payload)
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return EVENT, "sha256:" + hashlib.sha256(canonical).hexdigest()


def _severity(labels: dict) -> str:
    value = labels.get("severity")
    return SEVERITY.get(value.strip().lower(), "SEV3") if isinstance(value, str) else "SEV3"


def _service(team, labels: dict):
    name = labels.get("service")
    if not isinstance(name, str) or not name.strip():
        return None
    name = name.strip()
    candidates = team.services.filter(Q(slug__iexact=name) | Q(slug=slugify(name)[:60]) | Q(name__iexact=name))
    matches = sorted(candidates, key=lambda service: (service.slug.lower() != name.lower(), service.pk))
    return matches[0] if matches else None


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


def handle(integration, event, payload):
    team = integration.team
    alerts = _alerts(payload)
    if not alerts:
        return Ignored(_("The notification has no alert."))
    incidents, created_count = [], 0
    for alert in alerts:
        labels, annotations = alert.get("labels") or {}, alert.get("annotations") or {}
        starts_at = parse_time(alert["startsAt"], "startsAt")
        resolved = alert["status"] == "resolved"
        ends_at = parse_time(alert.get("endsAt"), "endsAt") if resolved else None
        event_at = ends_at if resolved else starts_at
        title = text(annotations.get("summary"), 200) or text(labels.get("alertname"), 200) or alert["fingerprint"]
        fields = {
            "title": title,
            "summary": text(annotations.get("description"), 10000),
            "severity": _severity(labels),
            "url": _url(alert.get("generatorURL")),
        }
        ref = external_id(alert)
        if not team.incidents.filter(source="alertmanager", external_id=ref).exists():
            fields.update(started_at=starts_at, detected_at=starts_at, service=_service(team, labels))
        incident, created = incident_services.upsert_incident_by_ref(
            team=team, source="alertmanager", external_id=ref, event_at=event_at, **fields
        )
        if resolved and incident.status not in (Incident.Status.RESOLVED, Incident.Status.CLOSED):
            incident = incident_services.set_incident_status(
                incident=incident, status=Incident.Status.RESOLVED, at=ends_at, event_at=event_at
            )
        incidents.append(incident.pk)
        created_count += created
    return {"incidents": incidents, "created": created_count}
