"""The by-ref upsert for many rows at once: the importer's path (and the one the webhook drain will share).

Each row is held to the rules of upsert_incident_by_ref / upsert_change_by_ref — the same writable
fields, links only to the team's own rows, the timestamp order, `detected_at` defaulting to
`started_at`, a status change written in the timeline, the order rule for a row that carries its
event time — but a batch reads its existing rows once (locked) and writes with one INSERT and one
UPDATE per BATCH rows, instead of a savepoint, a lookup and a write for every row. What differs,
on purpose:

- the audit: one entry for the batch, written by the caller (an import run's), not one per row;
- recurrence: checked once for the batch after it commits (`incidents_logged`), not per incident.

A refused row is reported with its fields at fault and nothing of it is written; the other rows
go on. Should the database refuse the batch (a row a concurrent writer created meanwhile, a
constraint the checks did not foresee), the batch is applied again row by row through the
one-row services, so each row gets its own outcome.
"""

import copy
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents import services, signals
from incidents.models import Change, Incident, TimelineEvent
from teams.models import Team

BATCH = 500
# bulk_update writes one CASE per column over its rows: PostgreSQL reads it row by row, so a
# smaller statement is cheaper per row than one of BATCH rows.
UPDATE_BATCH = 100


@dataclass
class Outcome:
    """One row's fate: the record written (or that would be), whether it was new, or why it was refused."""

    record: Model | None = None
    created: bool = False
    errors: dict = field(default_factory=dict)


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
    return _upsert_many(_IncidentRows(team, by), team=team, source=source, rows=rows)


def upsert_changes_by_ref(*, team: Team, source: str, rows: list[dict]) -> list[Outcome]:
    """Create or update the changes known to `source` by each row's `external_id`; one Outcome per row."""
    return _upsert_many(_ChangeRows(team), team=team, source=source, rows=rows)


class _IncidentRows:
    model = Incident

    def __init__(self, team: Team, by):
        self.team, self.by = team, by
        self.events: list[TimelineEvent] = []

    def new(self) -> Incident:
        return Incident(team=self.team, created_by=self.by)

    def apply(self, incident: Incident, fields: dict, event_at, *, created: bool) -> set[str]:
        before = incident.status
        fields = services._order_safe(incident, fields, event_at)
        services._apply(incident, fields, (*services.INCIDENT_FIELDS, *services.ORDER_STAMPS))
        if created and incident.detected_at is None:
            incident.detected_at = incident.started_at
        services._check_links(self.team, incident)
        # The links are the team's own objects, in hand (checked above): no query to find them again.
        incident.full_clean(
            exclude=["team", "created_by", "service", "problem", "caused_by_change"], validate_constraints=False
        )
        if not created and incident.status != before:
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

    def written(self, created: list[Incident], final: dict[str, Incident]) -> None:
        for event in self.events:  # on the record as the batch left it (the one just inserted, for a new one)
            event.incident = final[event.incident.external_id]
        TimelineEvent.objects.bulk_create(self.events, batch_size=BATCH)
        if created:
            team = self.team
            transaction.on_commit(lambda: signals.incidents_logged.send(sender=Incident, team=team, incidents=created))

    def one_row(self, source: str, external_id: str, fields: dict, event_at) -> tuple[Model, bool]:
        return services.upsert_incident_by_ref(
            team=self.team, source=source, external_id=external_id, by=self.by, event_at=event_at, **fields
        )


class _ChangeRows:
    model = Change

    def __init__(self, team: Team):
        self.team = team

    def new(self) -> Change:
        return Change(team=self.team)

    def apply(self, change: Change, fields: dict, event_at, *, created: bool) -> set[str]:
        services._apply(change, fields, services.CHANGE_FIELDS)
        services._check_links(self.team, change)
        change.full_clean(exclude=["team", "service"], validate_constraints=False)
        return set(fields)

    def written(self, created: list[Change], final: dict[str, Change]) -> None:
        pass

    def one_row(self, source: str, external_id: str, fields: dict, event_at) -> tuple[Model, bool]:
        return services.upsert_change_by_ref(team=self.team, source=source, external_id=external_id, **fields)


def _upsert_many(kind, *, team: Team, source: str, rows: list[dict]) -> list[Outcome]:
    if not source:
        raise ValidationError({"source": _("A source and an external id are needed.")})
    refs = [(str(row.get("external_id") or ""), row) for row in rows]
    existing = {
        record.external_id: record
        for record in kind.model.objects.select_for_update().filter(
            team=team, source=source, external_id__in={ref for ref, _row in refs if ref}
        )
    }
    pending: dict[str, Model] = {}  # external id → the record as this batch leaves it
    is_new: set[str] = set()
    dirty: dict[str, set[str]] = {}  # external id → the fields an existing record has changed
    outcomes = []
    for ref, row in refs:
        fields = {name: value for name, value in row.items() if name not in ("external_id", "source", "event_at")}
        if not ref:
            outcomes.append(Outcome(errors={"external_id": _("A source and an external id are needed.")}))
            continue
        current = pending.get(ref) or existing.get(ref)
        created = current is None
        candidate = kind.new() if created else copy.copy(current)
        if created:
            candidate.source, candidate.external_id = source, ref
        try:
            names = kind.apply(candidate, fields, row.get("event_at"), created=created)
        except ValidationError as exc:
            outcomes.append(Outcome(errors=field_errors(exc)))
            continue
        pending[ref] = candidate
        if created:
            is_new.add(ref)
        elif ref not in is_new:
            # Only what differs from the row as read is written: a re-import of the same file writes nothing.
            original = existing[ref]
            changed = {name for name in names if _value(candidate, name) != _value(original, name)}
            if changed:
                dirty[ref] = dirty.get(ref, set()) | changed
        outcomes.append(Outcome(record=candidate, created=created))
    # A record created then updated in the same batch is inserted once, as it ends.
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
        return _row_by_row(kind, source, rows)
    return outcomes


def _value(record: Model, name: str):
    """A field's stored value (the id for a link), to compare a record with the row as read."""
    return getattr(record, record._meta.get_field(name).attname)


def _row_by_row(kind, source: str, rows: list[dict]) -> list[Outcome]:
    """The batch again through the one-row service: each row its own savepoint and outcome."""
    outcomes = []
    for row in rows:
        fields = {name: value for name, value in row.items() if name not in ("external_id", "source", "event_at")}
        try:
            record, created = kind.one_row(source, str(row.get("external_id") or ""), fields, row.get("event_at"))
        except ValidationError as exc:
            outcomes.append(Outcome(errors=field_errors(exc)))
        except DatabaseError as exc:
            outcomes.append(Outcome(errors={"__all__": _("The database refused the row: %(error)s") % {"error": exc}}))
        else:
            outcomes.append(Outcome(record=record, created=created))
    return outcomes
