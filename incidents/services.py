"""Writes on incidents, their timelines, postmortems and changes.

Every caller (web form, API, webhook ingestion, seed) goes through these
functions, so the rules hold the same everywhere. Each runs in one
transaction and raises a ValidationError with field messages on bad input.
"""

from collections.abc import Iterable

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import insert_audited
from core.prepared import PreparedInsert, PreparedLookup
from core.text import one_line
from incidents import ordering, signals
from incidents.factors import add_contributing_factor  # noqa: F401 - callers add factors from here
from incidents.models import Change, Incident, Problem, TimelineEvent
from incidents.postmortems import (  # noqa: F401 - callers write postmortems from here
    POSTMORTEM_TEXT_FIELDS,
    move_postmortem,
    start_postmortem,
    update_postmortem,
    writers,
)
from incidents.timeline import add_timeline_event, not_in_future  # noqa: F401 - callers add entries from here
from teams.models import Team
from teams.services import ensure_same_team

# The fields each service writes, defined here once: the API's serializers, the pages' forms and the
# importer take their writable fields from these lists (tests/core/test_field_lists.py holds them to it).
INCIDENT_FIELDS = (
    "commander",
    "scribe",
    "service",
    "problem",
    "caused_by_change",
    "title",
    "summary",
    "severity",
    "status",
    "started_at",
    "detected_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "source",
    "external_id",
    "url",
    "fingerprint",
)
CHANGE_FIELDS = (
    "service",
    "title",
    "kind",
    "committed_at",
    "deployed_at",
    "failed",
    "source",
    "external_id",
    "url",
)
PROBLEM_FIELDS = (
    "service",
    "title",
    "description",
    "status",
    "workaround",
)
# What the order rule records beside the fields: written by events only, never sent as a field.
ORDER_STAMPS = ("source_event_at", "field_event_at")
# Titles are shown in lists, mails and the review summary: one line, whatever was typed or sent.
ONE_LINE_FIELDS = {"title"}


def _apply(instance, fields: dict, allowed: Iterable[str]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    for name, value in fields.items():
        setattr(instance, name, one_line(value) if name in ONE_LINE_FIELDS else value)


def _check_links(team: Team, instance) -> None:
    ensure_same_team(
        team,
        **{
            name: getattr(instance, name, None)
            for name in ("service", "problem", "caused_by_change")
            if hasattr(instance, name)
        },
    )


INCIDENT_ROLES = ("commander", "scribe")
INCIDENT_ROLES_SET = set(INCIDENT_ROLES)


def _check_roles(team: Team, incident: Incident) -> None:
    """The commander and the scribe are members or leads of the incident's team (one query when set)."""
    chosen = {name: getattr(incident, f"{name}_id") for name in INCIDENT_ROLES if getattr(incident, f"{name}_id")}
    if not chosen:
        return
    allowed = set(writers(team).filter(user_id__in=chosen.values()).values_list("user_id", flat=True))
    errors = {
        name: _("Choose a member or lead of this team.") for name, user_id in chosen.items() if user_id not in allowed
    }
    if errors:
        raise ValidationError(errors)


def _clean_incident(incident: Incident, *, check_unique: bool = True) -> None:
    """full_clean() without the database round trips that re-check what is already checked.

    Incident.clean() checks the timestamp order in Python (ORDER_RULES are the CHECK
    constraints, with field messages), so only the unique constraint goes to the
    database; team and creator are objects the caller already holds, not ids to look up.
    The ingest benchmark (bench/ingest_bench.py) measured these ~15 statements as the
    largest cost of an upsert.
    """
    # The roles are users checked against the team's memberships (_check_roles), not a bare existence query.
    incident.full_clean(exclude=["team", "created_by", *INCIDENT_ROLES], validate_constraints=False)
    # The one unique constraint (team, source, external_id where external_id != ""), as one plain
    # query: Django's own check of a conditional constraint costs a savepoint and two more statements.
    if check_unique and incident.external_id:
        taken = Incident.objects.filter(
            team_id=incident.team_id, source=incident.source, external_id=incident.external_id
        ).exclude(pk=incident.pk)
        if taken.exists():
            constraint = next(c for c in Incident._meta.constraints if isinstance(c, models.UniqueConstraint))
            raise ValidationError(
                {NON_FIELD_ERRORS: [ValidationError(constraint.get_violation_error_message(), code="unique")]}
            )


@transaction.atomic
def create_incident(*, team: Team, by=None, **fields) -> Incident:
    """Log an incident; `detected_at` defaults to `started_at`."""
    return _insert_incident(team, by, fields)


def _insert_incident(team: Team, by, fields: dict, *, check_unique: bool = True) -> Incident:
    """create_incident's work, in the caller's transaction (the by-ref upsert has just looked the reference up)."""
    incident = Incident(team=team, created_by=by)
    _apply(incident, fields, (*INCIDENT_FIELDS, *ORDER_STAMPS))
    if incident.detected_at is None:
        incident.detected_at = incident.started_at
    _check_links(team, incident)
    _check_roles(team, incident)
    _clean_incident(incident, check_unique=check_unique)
    insert_audited(_INCIDENT_INSERT, incident)
    transaction.on_commit(lambda: signals.incident_logged.send(sender=Incident, incident=incident))
    return incident


# Every logged incident (API, web, webhook applied one by one): its INSERT and its audit entry's
# compiled once (core.prepared, core.audit.insert_audited), not on each save.
_INCIDENT_INSERT = PreparedInsert(Incident)


def _order_safe(incident: Incident, fields: dict, event_at) -> dict:
    """The fields an event of `event_at` (the source's own time) may write on the locked `incident`.

    Per field, the newest event's value wins; the status never moves backwards through an older
    event. The rule and its stamps are in incidents.ordering (the webhook drain keeps it too).
    Without `event_at`: everything, as given.
    """
    return ordering.order_safe(incident, fields, event_at)


@transaction.atomic
def update_incident(*, incident: Incident, by=None, event_at=None, **fields) -> Incident:
    """Change an incident's fields; the timestamps must stay in order.

    `event_at`: when the source says this change happened (webhooks); see `_order_safe`.
    """
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    previous_status = incident.status
    fields = _order_safe(incident, fields, event_at)
    _apply(incident, fields, (*INCIDENT_FIELDS, *ORDER_STAMPS))
    _check_links(incident.team, incident)
    if INCIDENT_ROLES_SET & fields.keys():
        _check_roles(incident.team, incident)
    _clean_incident(incident)
    incident.save()
    if incident.status != previous_status:
        TimelineEvent.objects.create(
            team=incident.team,
            incident=incident,
            occurred_at=timezone.now(),
            kind=TimelineEvent.Kind.STATUS,
            data={"status": [previous_status, incident.status]},
            author=by,
        )
    return incident


@transaction.atomic
def set_incident_status(*, incident: Incident, status: str, at=None, by=None, event_at=None) -> Incident:
    """Move an incident to `status`, stamping the timestamp that status implies when it is unset.

    With `event_at` (a source's event time), a move older than the last applied event is skipped.
    """
    at = at or timezone.now()
    if event_at is not None:
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if not ordering.status_may_move(incident, status, event_at):
            return incident  # an older event than the one that set the status: it stays
    return update_incident(incident=incident, by=by, event_at=event_at, **status_fields(incident, status, at))


def status_fields(incident: Incident, status: str, at) -> dict:
    """The fields that move `incident` to `status`: the status, and the timestamp it implies where unset."""
    fields: dict = {"status": status}
    stamp = Incident.STATUS_REQUIRES.get(status)
    if stamp and getattr(incident, stamp) is None:
        fields[stamp] = at
        if stamp == "resolved_at" and incident.mitigated_at is None:
            fields["mitigated_at"] = at
    return fields


# The moves an incident page and the API offer: acknowledge, then the statuses in order.
class Move:
    ACKNOWLEDGE = "acknowledge"
    CHOICES = ("acknowledge", "mitigated", "resolved", "closed")


def incident_moves(incident: Incident) -> list[str]:
    """The moves open to `incident` now, in the order an on-call engineer makes them."""
    moves = []
    if incident.acknowledged_at is None and incident.status in (Incident.Status.OPEN, Incident.Status.MITIGATED):
        moves.append(Move.ACKNOWLEDGE)
    moves += {
        Incident.Status.OPEN: [Incident.Status.MITIGATED, Incident.Status.RESOLVED],
        Incident.Status.MITIGATED: [Incident.Status.RESOLVED],
        Incident.Status.RESOLVED: [Incident.Status.CLOSED],
    }.get(incident.status, [])
    return moves


@transaction.atomic
def move_incident(*, incident: Incident, move: str, at=None, by=None) -> Incident:
    """Acknowledge, mitigate, resolve or close `incident` at `at` (now by default, or backdated).

    The time must not be in the future nor break the order of the incident's times (no
    acknowledgement before the start, no resolution before the mitigation...); a refusal is
    a ValidationError on "at" and writes nothing.
    """
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if move not in incident_moves(incident):
        raise ValidationError({"move": _("This incident cannot make that move now.")})
    not_in_future(at)
    at = at or timezone.now()
    try:
        if move == Move.ACKNOWLEDGE:
            return update_incident(incident=incident, by=by, acknowledged_at=at)
        return set_incident_status(incident=incident, status=move, at=at, by=by)
    except ValidationError as error:
        # The order rules name the timestamp at fault; here the user typed one time: "at".
        messages = [m for field, ms in error.message_dict.items() if field != "move" for m in ms]
        raise ValidationError({"at": messages}) from error


@transaction.atomic
def create_change(*, team: Team, **fields) -> Change:
    """Record a change or deployment."""
    change = Change(team=team)
    _apply(change, fields, CHANGE_FIELDS)
    _check_links(team, change)
    change.full_clean()
    change.save()
    return change


@transaction.atomic
def update_change(*, change: Change, **fields) -> Change:
    """Edit a change record; deployment cannot precede the commit."""
    change = Change.objects.select_for_update().get(pk=change.pk)
    _apply(change, fields, CHANGE_FIELDS)
    _check_links(change.team, change)
    change.full_clean()
    change.save()
    return change


@transaction.atomic
def create_problem(
    *,
    team: Team,
    title: str,
    service=None,
    description: str = "",
    status: str = Problem.Status.OPEN,
    workaround: str = "",
) -> Problem:
    """Open a problem: the recurring cause that several incidents share."""
    problem = Problem(
        team=team,
        title=one_line(title),
        service=service,
        description=description,
        status=status,
        workaround=workaround,
    )
    _check_links(team, problem)
    problem.full_clean()
    problem.save()
    return problem


@transaction.atomic
def update_problem(*, problem: Problem, **fields) -> Problem:
    """Edit a problem or move its status (open → known error → resolved; a recurrence may reopen it)."""
    problem = Problem.objects.select_for_update().get(pk=problem.pk)
    _apply(problem, fields, PROBLEM_FIELDS)
    _check_links(problem.team, problem)
    problem.full_clean()
    problem.save()
    return problem


def _team_incidents_for_update(team: Team, incident_ids) -> list[Incident]:
    """The team's incidents among `incident_ids`, locked; an id of another team's (or none) is refused."""
    ids = sorted({int(pk) for pk in incident_ids})
    if not ids:
        raise ValidationError({"incidents": _("Select at least one incident.")})
    incidents = list(Incident.objects.select_for_update().filter(team=team, pk__in=ids).order_by("pk"))
    if len(incidents) != len(ids):
        raise ValidationError({"incidents": _("Some of these incidents do not exist in this team.")})
    return incidents


@transaction.atomic
def attach_incidents(*, team: Team, problem: Problem, incident_ids) -> list[Incident]:
    """Link several incidents to one problem (each change audited); all of them or none."""
    ensure_same_team(team, problem=problem)
    if problem.merged_into_id:
        raise ValidationError({"problem": _("This problem was merged into another one.")})
    incidents = _team_incidents_for_update(team, incident_ids)
    for incident in incidents:
        if incident.problem_id != problem.pk:
            incident.problem = problem
            incident.save(update_fields=["problem", "updated_at"])
    return incidents


@transaction.atomic
def detach_incidents(*, team: Team, incident_ids, problem: Problem | None = None) -> list[Incident]:
    """Unlink incidents from their problem (from `problem` only, when given); all of them or none."""
    incidents = _team_incidents_for_update(team, incident_ids)
    if problem is not None and any(incident.problem_id != problem.pk for incident in incidents):
        raise ValidationError({"incidents": _("Some of these incidents are not linked to this problem.")})
    for incident in incidents:
        if incident.problem_id is not None:
            incident.problem = None
            incident.save(update_fields=["problem", "updated_at"])
    return incidents


# --- Upserts by external reference (API by-ref endpoints and webhooks) -----------
# The one place for the rule "the same source + external id is the same record":
# a replayed webhook or a retried PUT updates instead of duplicating.


def _by_ref(model):
    def build(team_id, source, external_id):
        return model.objects.filter(team_id=team_id, source=source, external_id=external_id).only("pk").order_by()[:1]

    return PreparedLookup(model, build, kinds=(int, str, str))


# The key only (an update reads the row again, locked); compiled once, it runs for every upsert.
_REF_LOOKUPS = {Incident: _by_ref(Incident), Change: _by_ref(Change)}


def _upsert_by_ref(model, create, update, *, team: Team, source: str, external_id: str, fields: dict, **extra):
    """Look the reference up and update it, or create it, in one transaction (a savepoint when nested).

    Two concurrent requests for a new reference both find nothing and both insert; the
    unique constraint refuses the second, whose transaction is then run again and finds
    the row to update. Retried once: a second IntegrityError is another fault and is raised.
    """
    if not source or not external_id:
        raise ValidationError({"external_id": _("A source and an external id are needed.")})
    fields = {k: v for k, v in fields.items() if k not in ("source", "external_id")}
    for attempt in range(2):
        try:
            with transaction.atomic():
                # The key only: an update reads the row again, locked (select_for_update).
                found = _REF_LOOKUPS[model].first(team.pk, source, external_id)
                existing = None if found is None else found.pk
                if existing is None:
                    return create(team=team, source=source, external_id=external_id, **fields, **extra), True
                if not fields:
                    return model.objects.get(pk=existing), False
                return update(model(pk=existing, team=team), fields, **extra), False
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def upsert_incident_by_ref(
    *, team: Team, source: str, external_id: str, by=None, event_at=None, **fields
) -> tuple[Incident, bool]:
    """Create or update the incident known to `source` as `external_id`; returns (incident, created).

    `event_at`: when the source says the event happened; each field keeps the newest event's value
    and the status never moves backwards through an older event (see `_order_safe`).
    """

    def create(*, team, by=None, **fields):
        # No second uniqueness query and no nested savepoint: the lookup above is in the same
        # transaction, and the constraint refuses a concurrent twin (then the upsert runs again).
        if event_at is not None:  # without the event's own time every field is written as given
            fields = _order_safe(Incident(), fields, event_at)
        return _insert_incident(team, by, fields, check_unique=False)

    def update(incident, changes, by=None):
        return update_incident(incident=incident, by=by, event_at=event_at, **changes)

    return _upsert_by_ref(
        Incident,
        create,
        update,
        team=team,
        source=source,
        external_id=external_id,
        fields=fields,
        by=by,
    )


def upsert_change_by_ref(*, team: Team, source: str, external_id: str, **fields) -> tuple[Change, bool]:
    """Create or update the change known to `source` as `external_id`; returns (change, created)."""

    def update(change, changes):
        return update_change(change=change, **changes)

    return _upsert_by_ref(
        Change, create_change, update, team=team, source=source, external_id=external_id, fields=fields
    )
