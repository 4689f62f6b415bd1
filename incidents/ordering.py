"""The order rule: late and out-of-order source events never move an incident backwards.

Sources retry for hours and deliver out of order, so arrival order says nothing; each event
carries its own time (`event_at`: PagerDuty's `occurred_at`, Jira's `timestamp`, Alertmanager's
`startsAt` / `endsAt`, …). The rule, per field:

- every field keeps the value of the newest event that set it: `Incident.field_event_at` maps a
  field name to the event time that last wrote it, and an event older than that leaves the field
  alone (a field no event has set takes any event's value: a late acknowledgement fills it);
- the status moves only through an event not older than every event applied so far, and never
  backwards (closed → resolved → mitigated → open) through an event of the same time: each event
  tells the incident's state at its time, even when it does not name the status (a Jira update
  without a resolution date says "unresolved"), so a late "resolved" after a newer update does not
  resolve and a late "triggered" after the "resolved" does not reopen; a refused status also drops
  the timestamps that came with it (a late resolution leaves `resolved_at` unset);
- `source_event_at` is the newest event time applied, whatever the field.

Incidents written before the per-field map (and fields edited by hand since) have no entry for
a field: its value counts as set by `source_event_at`, the older rule "an older event only fills
unset fields". Writes without an event time (pages, API) apply as they are and leave the map as
it is. This module decides only what to write; the caller holds the row lock (select_for_update),
so a batch applying many events to one incident keeps the same rule event by event.
"""

import datetime as dt

from incidents.models import Incident

RANK = {
    Incident.Status.OPEN: 0,
    Incident.Status.MITIGATED: 1,
    Incident.Status.RESOLVED: 2,
    Incident.Status.CLOSED: 3,
}
# The timestamps a status move brings with it (set_incident_status stamps them): refused with it.
STATUS_STAMPS = {
    Incident.Status.MITIGATED: ("mitigated_at",),
    Incident.Status.RESOLVED: ("resolved_at", "mitigated_at"),
    Incident.Status.CLOSED: ("resolved_at", "mitigated_at"),
}


def unset(value) -> bool:
    """No value: None or the empty string."""
    return value is None or value == ""


def field_stamp(incident: Incident, name: str) -> dt.datetime | None:
    """The event time that set `name` on `incident`, or None when no event set it."""
    stamp = (incident.field_event_at or {}).get(name)
    if stamp:
        return dt.datetime.fromisoformat(stamp)
    # Before the per-field map, or edited by hand: a set value is as new as the newest event applied.
    if incident.pk is not None and not unset(getattr(incident, name, None)):
        return incident.source_event_at
    return None


def status_may_move(incident: Incident, status: str, event_at: dt.datetime) -> bool:
    """Whether an event of `event_at` may set `status` on `incident` (see the module's rule)."""
    if status == incident.status:
        return True
    stamps = [s for s in (field_stamp(incident, "status"), incident.source_event_at) if s is not None]
    if not stamps:
        return True
    stamp = max(stamps)
    if event_at == stamp:
        return RANK.get(status, 0) >= RANK.get(incident.status, 0)
    return event_at > stamp


def order_safe(incident: Incident, fields: dict, event_at: dt.datetime | None) -> dict:
    """The part of `fields` an event of `event_at` may write on `incident`, plus the stamps to record.

    Returns the fields to apply; with `event_at`, also `field_event_at` (the map, updated for each
    field written) and `source_event_at` (the newest event time applied).
    """
    if event_at is None:
        return fields
    refused: set[str] = set()
    if "status" in fields and not status_may_move(incident, fields["status"], event_at):
        refused.add("status")
        refused.update(STATUS_STAMPS.get(fields["status"], ()))
    for name in fields:
        if name in refused:
            continue
        stamp = field_stamp(incident, name)
        if stamp is not None and event_at < stamp:
            refused.add(name)
    allowed = {name: value for name, value in fields.items() if name not in refused}
    stamps = dict(incident.field_event_at or {})
    moment = event_at.isoformat()
    for name in allowed:
        stamps[name] = moment
    if incident.pk is None:
        stamps.setdefault("status", moment)  # the status it is created with comes from this event
    newest = incident.source_event_at
    return {
        **allowed,
        "field_event_at": stamps,
        "source_event_at": event_at if newest is None or event_at > newest else newest,
    }
