"""Writes on an incident's timeline: add an entry, and let its author or a lead correct or remove it.

Every entry happens during the incident's life: not before its start, not in the future. Edits and
deletions are audited (TimelineEvent is registered with the audit log, tagged with the team).
"""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.models import Incident, TimelineEvent
from teams.models import Membership

# A time typed on a laptop whose clock runs a little ahead is not "in the future".
CLOCK_SKEW = timedelta(minutes=2)
EDITABLE_FIELDS = {"text", "kind", "occurred_at"}


def not_in_future(at, field: str = "at") -> None:
    if at is not None and at > timezone.now() + CLOCK_SKEW:
        raise ValidationError({field: _("This time is in the future.")})


def _check_event_time(incident: Incident, occurred_at) -> None:
    """A timeline entry happens during the incident's life: not before its start, not in the future."""
    not_in_future(occurred_at, "occurred_at")
    if occurred_at < incident.started_at:
        raise ValidationError({"occurred_at": _("A timeline entry cannot be before the incident started.")})


@transaction.atomic
def add_timeline_event(*, incident: Incident, text: str, occurred_at=None, kind=TimelineEvent.Kind.NOTE, by=None):
    """Add an entry to an incident's timeline."""
    event = TimelineEvent(
        team=incident.team,
        incident=incident,
        text=text,
        kind=kind,
        author=by,
        occurred_at=occurred_at or timezone.now(),
    )
    _check_event_time(incident, event.occurred_at)
    event.full_clean()
    event.save()
    return event


def may_change_event(event: TimelineEvent, *, by, role: str | None) -> bool:
    """Its author (still a member or lead) or a lead of the team corrects or removes an entry."""
    if role == Membership.Role.LEAD:
        return True
    writer = role is not None and Membership.RANK[role] >= Membership.RANK[Membership.Role.MEMBER]
    return writer and by is not None and event.author_id is not None and event.author_id == by.pk


def _locked(event: TimelineEvent, by, role) -> TimelineEvent:
    if not may_change_event(event, by=by, role=role):
        raise PermissionDenied(_("Only its author or a lead can change this timeline entry."))
    return TimelineEvent.objects.select_for_update().select_related("incident").get(pk=event.pk)


@transaction.atomic
def update_timeline_event(*, event: TimelineEvent, by, role: str | None, **fields) -> TimelineEvent:
    """Correct an entry's text, kind or time (by its author or a lead); the time rules of a new entry apply."""
    event = _locked(event, by, role)
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    if event.data and "text" in fields:
        # A system entry reads from its data in each reader's language: its text is not the entry.
        raise ValidationError({"text": _("A system entry cannot be rewritten; a lead may delete it.")})
    for name, value in fields.items():
        setattr(event, name, value)
    _check_event_time(event.incident, event.occurred_at)
    event.full_clean(exclude=["text"] if event.data else None)
    event.save()
    return event


@transaction.atomic
def delete_timeline_event(*, event: TimelineEvent, by, role: str | None) -> None:
    """Remove an entry (by its author or a lead); the audit log keeps what it said."""
    _locked(event, by, role).delete()
