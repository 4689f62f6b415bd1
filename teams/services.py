"""Writes on teams and shared guards used by the other apps' services."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from teams.models import Membership, Service, Team


def ensure_same_team(team: Team, **related) -> None:
    """Refuse links to another team's rows: isolation holds in the services, not only in the views."""
    errors = {}
    for field, obj in related.items():
        if obj is None:
            continue
        if getattr(obj, "team_id", None) != team.pk:
            errors[field] = _("This belongs to another team.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_team(*, name: str, timezone: str = "UTC", slug: str = "") -> Team:
    """Create a team; its slug is derived from the name unless given."""
    team = Team(name=name, slug=slug or slugify(name)[:60], timezone=timezone)
    team.full_clean()
    team.save()
    return team


@transaction.atomic
def add_member(*, team: Team, user, role: str = Membership.Role.MEMBER) -> Membership:
    """Add `user` to `team` with `role`, or change the role of an existing member."""
    membership, _created = Membership.objects.get_or_create(team=team, user=user, defaults={"role": role})
    if membership.role != role:
        membership.role = role
        membership.full_clean()
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def create_service(*, team: Team, name: str, slug: str = "", description: str = "", tier: int = 2) -> Service:
    """Create a service run by `team`."""
    service = Service(team=team, name=name, slug=slug or slugify(name)[:60], description=description, tier=tier)
    service.full_clean()
    service.save()
    return service
