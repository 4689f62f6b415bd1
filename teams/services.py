"""Writes on teams and shared guards used by the other apps' services."""

import datetime as dt
import hmac
import secrets

from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from teams.models import ApiToken, Membership, Service, Team
from teams.selectors import has_role, only_row


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
def create_service(
    *, team: Team, name: str, slug: str = "", description: str = "", tier: int = 2, **links: str
) -> Service:
    """Create a service run by `team`; `links`: runbook_url, dashboard_url, repository_url."""
    unknown = set(links) - {"runbook_url", "dashboard_url", "repository_url"}
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    service = Service(
        team=team, name=name, slug=slug or slugify(name)[:60], description=description, tier=tier, **links
    )
    service.full_clean()
    service.save()
    return service


# --- API tokens, integrations, outgoing webhooks --------------------------------


@transaction.atomic
def update_service(*, service: Service, **fields) -> Service:
    """Edit a service's name, description or tier."""
    unknown = set(fields) - {"name", "slug", "description", "tier", "runbook_url", "dashboard_url", "repository_url"}
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    for name, value in fields.items():
        setattr(service, name, value)
    service.full_clean()
    service.save()
    return service


@transaction.atomic
def create_api_token(
    *, team: Team, name: str, scope: str = ApiToken.Scope.READ, kind: str = ApiToken.Kind.PERSONAL, by=None
) -> tuple[ApiToken, str]:
    """Create a token for `team`; returns the token and its key, which is shown once and never stored.

    A service token belongs to the team and only a lead of the team creates one.
    """
    if kind == ApiToken.Kind.SERVICE and (by is None or not has_role(by, team, Membership.Role.LEAD)):
        raise ValidationError({"kind": _("Only a lead of the team creates a service token.")})
    prefix = secrets.token_hex(4)
    key = f"{ApiToken.KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        team=team, name=name, scope=scope, kind=kind, created_by=by, prefix=prefix, key_hash=ApiToken.hash_key(key)
    )
    token.full_clean()
    token.save()
    return token, key


def authenticate_api_key(key: str) -> ApiToken | None:
    """The token whose key is `key` (compared in constant time), else None; the caller refuses a revoked one.

    An active token comes back with `acting_role`: the role it acts with now, its scope capped
    by its holder's current role in the team, None when its holder is no longer a member.
    """
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != ApiToken.KEY_PREFIX or len(parts[1]) != 8:
        return None
    # The holder's role rides on the token's own query: no extra round trip per request.
    holder = Membership.objects.filter(team=OuterRef("team_id"), user=OuterRef("created_by_id")).values("role")[:1]
    token = only_row(
        ApiToken.objects.select_related("team", "created_by")
        .annotate(holder_role=Subquery(holder))
        .filter(prefix=parts[1])
    )
    if token is None or not hmac.compare_digest(token.key_hash, ApiToken.hash_key(key)):
        return None
    if not token.is_active:
        return token
    token.holder_role = token.current_holder_role()
    token.acting_role = token.effective_role(token.holder_role)
    if token.acting_role is None:
        return token
    now = timezone.now()
    # One write a minute at most, not one per request.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(seconds=60):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


@transaction.atomic
def revoke_api_token(*, token: ApiToken, by=None, reason: str = "") -> ApiToken:
    """Revoke a token for good (a revoked token is refused from its next request on), in the audit log."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        LogEntry.objects.log_create(
            token,
            action=LogEntry.Action.UPDATE,
            changes={"revoked_at": [None, token.revoked_at.isoformat()]},
            actor=by,
            additional_data={"team_id": token.team_id, "reason": reason or "revoked"},
        )
    return token


def _refuse_losing_last_lead(membership: Membership) -> None:
    if membership.role != Membership.Role.LEAD:
        return
    if (
        not Membership.objects.filter(team=membership.team, role=Membership.Role.LEAD)
        .exclude(pk=membership.pk)
        .exists()
    ):
        raise ValidationError({"role": _("A team keeps at least one lead.")})


@transaction.atomic
def change_member_role(*, membership: Membership, role: str) -> Membership:
    """Change a member's role; the team's last lead cannot be demoted."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if role != Membership.Role.LEAD:
        _refuse_losing_last_lead(membership)
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(*, membership: Membership, by=None) -> None:
    """Remove someone from a team and revoke their personal tokens of it; the team's last lead cannot leave."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _refuse_losing_last_lead(membership)
    tokens = ApiToken.objects.select_for_update().filter(
        team=membership.team_id, created_by=membership.user_id, kind=ApiToken.Kind.PERSONAL, revoked_at__isnull=True
    )
    for token in tokens:
        revoke_api_token(token=token, by=by, reason="holder removed from the team")
    membership.delete()
