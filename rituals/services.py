"""Writes on rituals: create, edit and delete a team's recurring meetings."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from rituals.models import Ritual
from teams.models import Membership, Team


def _save_ritual(ritual: Ritual, fields: dict, attendees) -> Ritual:
    unknown = set(fields) - set(RITUAL_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    for name, value in fields.items():
        setattr(ritual, name, value)
    ritual.full_clean(exclude=["next_occurrence"])
    ritual.save()
    if attendees is not None:
        members = set(Membership.objects.filter(team=ritual.team).values_list("user_id", flat=True))
        strangers = [user for user in attendees if user.pk not in members]
        if strangers:
            raise ValidationError({"attendees": _("Attendees must be members of the team.")})
        ritual.attendees.set(attendees)
    return ritual


@transaction.atomic
def create_ritual(*, team: Team, attendees=None, **fields) -> Ritual:
    """Create a recurring meeting of `team` (its next occurrence is computed by the ritual scheduler)."""
    return _save_ritual(Ritual(team=team), fields, attendees)


@transaction.atomic
def update_ritual(*, ritual: Ritual, attendees=None, **fields) -> Ritual:
    """Edit a ritual; its past sessions stay as they were."""
    ritual = Ritual.objects.select_for_update().get(pk=ritual.pk)
    return _save_ritual(ritual, fields, attendees)


@transaction.atomic
def delete_ritual(*, ritual: Ritual) -> None:
    """Delete a ritual and its sessions."""
    ritual.delete()


# What create_ritual / update_ritual write: the API's serializer and the ritual form take theirs from here.
RITUAL_FIELDS = (
    "name",
    "kind",
    "weekday",
    "time_of_day",
    "rrule",
    "timezone",
    "duration_minutes",
    "notify_email",
    "chat_webhook_url",
    "active",
    "stale_after_days",
)
