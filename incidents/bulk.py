"""The by-ref upsert for many rows at once: the importer's path and the webhook drain's.

Each row is held to the rules of upsert_incident_by_ref / upsert_change_by_ref — the same writable
fields, links only to the team's own rows, the timestamp order, `detected_at` defaulting to
`started_at`, a status change written in the timeline, the order rule for a row that carries its
event time — but a batch reads its existing rows once (locked) and writes with one INSERT and one
UPDATE per BATCH rows, instead of a savepoint, a lookup and a write for every row. What differs,
on purpose:

- the audit: one entry for the batch, written by the caller (an import run's, a drain batch's),
  not one per row;
- recurrence: checked once for the batch after it commits (`incidents_logged`), not per incident.

Beside its fields, an incident row may say what a webhook event means for the record as it
stands (the keys of EXTRA_KEYS): `if_new` (written only when the row creates the record; a
callable is called then, so a lookup it needs costs nothing on an update), `if_unset` (written
only where the record's value is unset: the first acknowledgement) and `advance_to`
((status, at): the status moves forward to it, never back, stamping what that status implies
where unset, as set_incident_status does).

Rows come in units (`upsert_incident_units`): a unit is applied whole or not at all, so a webhook
delivery that opens several incidents fails alone and leaves nothing of itself. A refused row is
reported with its fields at fault; the other units go on. Should the database refuse the batch
(a row a concurrent writer created meanwhile, a constraint the checks did not foresee), each unit
is applied again alone, in its own savepoint, so each gets its own outcome.
"""

import copy
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents import ordering, services, signals
from incidents.models import Change, Incident, TimelineEvent
from teams.models import Team

BATCH = 500
# bulk_update writes one CASE per column over its rows: PostgreSQL reads it row by row, so a
# smaller statement is cheaper per row than one of BATCH rows.
UPDATE_BATCH = 100
EXTRA_KEYS = ("if_new", "if_unset", "advance_to")
NOT_FIELDS = ("external_id", "source", "event_at", *EXTRA_KEYS)


@dataclass
class Outcome:
    """One row's fate: the record written (or that would be), whether it was new, or why it was refused."""

    record: Model | None = None
    created: bool = False
    errors: dict = field(default_factory=dict)
    exception: ValidationError | None = None  # the refusal itself, for a caller that words it its own way


def field_errors(exc: ValidationError) -> dict:
    """{field: "message …"} of a service's refusal (non-field errors under NON_FIELD_ERRORS)."""
    if hasattr(exc, "error_dict"):
        return {name: " ".join(messages) for name, messages in exc.message_dict.items()}
    return {"__all__": " ".join(exc.messages)}


def upsert_incidents_by_ref(*, team: Team, source: str, rows: list[dict], by=None) -> list[Outcome]:
    """Create or update the incidents known to `source` by each row's `external_id`; one Outcome per row.

    A row may carry `event_at` (the source's time of the event): the order rule then decides what
    it writes, as for one webhook delivery.
    """
    units = upsert_incident_units(team=team, source=source, units=[[row] for row in rows], by=by)
    return [outcome for unit in units for outcome in unit]


def upsert_incident_units(*, team: Team, source: str, units: list[list[dict]], by=None) -> list[list[Outcome]]:
    """Apply each unit of rows whole or not at all, in order; one list of Outcomes per unit.

    A unit with a refused row has that row's errors in its outcomes and writes nothing.
    """
    return _upsert_units(lambda: _IncidentRows(team, by), team, source, units)


def upsert_changes_by_ref(*, team: Team, source: str, rows: list[dict]) -> list[Outcome]:
    """Create or update the changes known to `source` by each row's `external_id`; one Outcome per row."""
    units = _upsert_units(lambda: _ChangeRows(team), team, source, [[row] for row in rows])
    return [outcome for unit in units for outcome in unit]


class _IncidentRows:
    model = Incident

    def __init__(self, team: Team, by):
        self.team, self.by = team, by
        self.events: list[TimelineEvent] = []

    def new(self) -> Incident:
        return Incident(team=self.team, created_by=self.by)

    def apply(self, incident: Incident, fields: dict, row: dict, *, created: bool) -> set[str]:
        before = incident.status
        fields = dict(fields)
        if created and row.get("if_new"):
            extra = row["if_new"]
            fields.update(extra() if callable(extra) else extra)
        for name, value in (row.get("if_unset") or {}).items():
            if name not in fields and ordering.unset(getattr(incident, name)):
                fields[name] = value
        if row.get("advance_to"):
            fields.update(_advance(incident, *row["advance_to"]))
        fields = services._order_safe(incident, fields, row.get("event_at"))
        services._apply(incident, fields, (*services.INCIDENT_FIELDS, *services.ORDER_STAMPS))
        if created and incident.detected_at is None:
            incident.detected_at = incident.started_at
        services._check_links(self.team, incident)
        if services.INCIDENT_ROLES_SET & fields.keys():
            services._check_roles(self.team, incident)
        # The links are the team's own objects, in hand (checked above): no query to find them again.
        incident.full_clean(
            exclude=["team", "created_by", "service", "problem", "caused_by_change", *services.INCIDENT_ROLES],
            validate_constraints=False,
        )
        # A new record moved on by its own event (a resolve that arrives first) shows the move, as the one-row path.
        moved = incident.status != before and (not created or "advance_to" in row)
        if moved:
            self.events.append(
                TimelineEvent(
                    team=self.team,
                    incident=incident,
                    occurred_at=timezone.now(),
                    kind=TimelineEvent.Kind.STATUS,
                    data={"status": [before, incident.status]},
                    author=self.by,
                )
            )
        return set(fields)

    def mark(self) -> int:
        return len(self.events)

    def undo(self, mark: int) -> None:
        del self.events[mark:]

    def written(self, created: list[Incident], final: dict[str, Incident]) -> None:
        for event in self.events:  # on the record as the batch left it (the one just inserted, for a new one)
            event.incident = final[event.incident.external_id]
        TimelineEvent.objects.bulk_create(self.events, batch_size=BATCH)
        if created:
            team = self.team
            transaction.on_commit(lambda: signals.incidents_logged.send(sender=Incident, team=team, incidents=created))


def _advance(incident: Incident, status: str, at) -> dict:
    """The fields that move `incident` forward to `status` at `at` (set_incident_status's stamps), or none."""
    if ordering.RANK.get(status, 0) <= ordering.RANK.get(incident.status, 0):
        return {}
    return services.status_fields(incident, status, at or timezone.now())


class _ChangeRows:
    model = Change

    def __init__(self, team: Team):
        self.team = team

    def new(self) -> Change:
        return Change(team=self.team)

    def apply(self, change: Change, fields: dict, row: dict, *, created: bool) -> set[str]:
        services._apply(change, fields, services.CHANGE_FIELDS)
        services._check_links(self.team, change)
        change.full_clean(exclude=["team", "service"], validate_constraints=False)
        return set(fields)

    def mark(self) -> int:
        return 0

    def undo(self, mark: int) -> None:
        pass

    def written(self, created: list[Change], final: dict[str, Change]) -> None:
        pass


def _upsert_units(make_kind, team: Team, source: str, units: list[list[dict]], *, alone=False):
    if not source:
        raise ValidationError({"source": _("A source and an external id are needed.")})
    kind = make_kind()
    refs = {str(row.get("external_id") or "") for unit in units for row in unit}
    existing = {
        record.external_id: record
        for record in kind.model.objects.select_for_update().filter(
            team=team, source=source, external_id__in=refs - {""}
        )
    }
    pending: dict[str, Model] = {}  # external id → the record as this batch leaves it
    is_new: set[str] = set()
    dirty: dict[str, set[str]] = {}  # external id → the fields an existing record has changed
    results = []
    for unit in units:
        touched = {str(row.get("external_id") or "") for row in unit}
        saved = {ref: (pending.get(ref), ref in is_new, set(dirty[ref]) if ref in dirty else None) for ref in touched}
        mark = kind.mark()
        outcomes = [_apply_row(kind, source, row, existing, pending, is_new, dirty) for row in unit]
        if any(outcome.errors for outcome in outcomes):  # the unit writes nothing: as it was before it
            kind.undo(mark)
            for ref, (record, new, fields) in saved.items():
                _restore(pending, ref, record)
                _restore(dirty, ref, fields)
                is_new.discard(ref)
                if new:
                    is_new.add(ref)
            outcomes = [outcome if outcome.errors else Outcome() for outcome in outcomes]
        results.append(outcomes)
    # A record created then updated in the same batch is inserted once, as it ends.
    for outcomes in results:
        for outcome in outcomes:
            if outcome.record is not None:
                outcome.record = pending[outcome.record.external_id]
    inserts = [pending[ref] for ref in pending if ref in is_new]
    updates = [pending[ref] for ref in dirty]
    try:
        with transaction.atomic():
            kind.model.objects.bulk_create(inserts, batch_size=BATCH)
            if updates:
                now = timezone.now()
                for record in updates:
                    record.updated_at = now
                columns = sorted(set().union(*dirty.values()) | {"updated_at"})
                kind.model.objects.bulk_update(updates, columns, batch_size=UPDATE_BATCH)
            kind.written(inserts, pending)
    except DatabaseError:
        if alone:
            raise
        return _unit_by_unit(make_kind, team, source, units)
    return results


def _restore(mapping: dict, key, value) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


def _apply_row(kind, source: str, row: dict, existing: dict, pending: dict, is_new: set, dirty: dict) -> Outcome:
    ref = str(row.get("external_id") or "")
    if not ref:
        refusal = ValidationError({"external_id": _("A source and an external id are needed.")})
        return Outcome(errors=field_errors(refusal), exception=refusal)
    fields = {name: value for name, value in row.items() if name not in NOT_FIELDS}
    current = pending.get(ref) or existing.get(ref)
    created = current is None
    candidate = kind.new() if created else copy.copy(current)
    if created:
        candidate.source, candidate.external_id = source, ref
    try:
        names = kind.apply(candidate, fields, row, created=created)
    except ValidationError as exc:
        return Outcome(errors=field_errors(exc), exception=exc)
    pending[ref] = candidate
    if created:
        is_new.add(ref)
    elif ref not in is_new:
        # Only what differs from the row as read is written: a re-import of the same file writes nothing.
        original = existing[ref]
        changed = {name for name in names if _value(candidate, name) != _value(original, name)}
        if changed:
            dirty[ref] = dirty.get(ref, set()) | changed
    return Outcome(record=candidate, created=created)


def _value(record: Model, name: str):
    """A field's stored value (the id for a link), to compare a record with the row as read."""
    return getattr(record, record._meta.get_field(name).attname)


def _unit_by_unit(make_kind, team: Team, source: str, units: list[list[dict]]):
    """The batch again, each unit alone in its own savepoint: each unit gets its own outcome."""
    results = []
    for unit in units:
        try:
            with transaction.atomic():
                (outcomes,) = _upsert_units(make_kind, team, source, [unit], alone=True)
        except (IntegrityError, DataError) as exc:  # this unit's data; a lost connection fails the whole batch
            error = _("The database refused the row: %(error)s") % {"error": exc}
            outcomes = [Outcome(errors={"__all__": error}, exception=ValidationError(error)) for _row in unit]
        results.append(outcomes)
    return results
