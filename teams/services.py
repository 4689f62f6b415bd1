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

from core.prepared import PreparedLookup
from teams.models import ApiToken, Membership, OrganisationRole, Service, Team
from teams.selectors import has_role


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


def _audit_membership(membership: Membership, action, changes: dict, *, by=None, reason: str) -> None:
    LogEntry.objects.log_create(
        membership,
        force_log=True,
        action=action,
        changes=changes,
        actor=by,
        additional_data={"team_id": membership.team_id, "reason": reason},
    )


def _refuse_provider_owned(membership: Membership) -> None:
    if membership.from_provider:
        raise ValidationError(
            {"role": _("This membership comes from the identity provider: change the person's groups there.")}
        )


@transaction.atomic
def add_member(*, team: Team, user, role: str = Membership.Role.MEMBER, by=None) -> Membership:
    """Add `user` to `team` with `role`, or change the role of an existing member (in the audit log)."""
    membership, created = Membership.objects.get_or_create(team=team, user=user, defaults={"role": role})
    if created:
        _audit_membership(
            membership, LogEntry.Action.CREATE, {"role": [None, role]}, by=by, reason=f"{user} added as {role}"
        )
    elif membership.role != role:
        return change_member_role(membership=membership, role=role, by=by)
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
    LogEntry.objects.log_create(
        token,
        force_log=True,
        action=LogEntry.Action.CREATE,
        changes={"scope": [None, token.scope], "kind": [None, token.kind]},
        actor=by,
        additional_data={"team_id": team.pk, "reason": f"{token.kind} token created"},
    )
    return token, key


def _token_by_prefix(prefix):
    # The holder's role rides on the token's own query: no extra round trip per request. One
    # membership per team and user: without Membership's default ordering the subquery joins
    # neither the team nor the user.
    holder = Membership.objects.filter(team=OuterRef("team_id"), user=OuterRef("created_by_id"))
    holder = holder.order_by().values("role")[:1]
    return (
        ApiToken.objects.select_related("team", "created_by")
        .annotate(holder_role=Subquery(holder))
        .filter(prefix=prefix)
        .order_by()[:1]
    )


# Every API request looks its token up: compiled once, not per request (core.prepared).
_TOKEN_BY_PREFIX = PreparedLookup(ApiToken, _token_by_prefix)


def authenticate_api_key(key: str) -> ApiToken | None:
    """The token whose key is `key` (compared in constant time), else None; the caller refuses a revoked one.

    An active token comes back with `acting_role`: the role it acts with now, its scope capped
    by its holder's current role in the team, None when its holder is no longer a member.
    """
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != ApiToken.KEY_PREFIX or len(parts[1]) != 8:
        return None
    token = _TOKEN_BY_PREFIX.first(parts[1])
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
def change_member_role(*, membership: Membership, role: str, by=None) -> Membership:
    """Change a member's role (in the audit log); the team's last lead cannot be demoted.

    A membership from the identity provider is refused: the next sign-in would undo the change.
    """
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == role:
        return membership
    _refuse_provider_owned(membership)
    if role != Membership.Role.LEAD:
        _refuse_losing_last_lead(membership)
    before = membership.role
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role"])
    _audit_membership(
        membership, LogEntry.Action.UPDATE, {"role": [before, role]}, by=by, reason=f"role of {membership.user} changed"
    )
    return membership


def _leave(membership: Membership, *, by, reason: str) -> None:
    tokens = ApiToken.objects.select_for_update().filter(
        team=membership.team_id, created_by=membership.user_id, kind=ApiToken.Kind.PERSONAL, revoked_at__isnull=True
    )
    for token in tokens:
        revoke_api_token(token=token, by=by, reason="holder removed from the team")
    _audit_membership(membership, LogEntry.Action.DELETE, {"role": [membership.role, None]}, by=by, reason=reason)
    membership.delete()


@transaction.atomic
def remove_member(*, membership: Membership, by=None) -> None:
    """Remove someone from a team and revoke their personal tokens of it; the team's last lead cannot leave.

    A lead may remove a provider-owned membership (to cut someone off at once); the person's next
    sign-in grants it again while the provider still lists them.
    """
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _refuse_losing_last_lead(membership)
    _leave(membership, by=by, reason=f"{membership.user} removed from the team")


@transaction.atomic
def sync_provider_memberships(*, user, wanted: dict[str, str]) -> None:
    """Make `user`'s provider-owned memberships what the sign-in claim says: {team slug: role}.

    A team the claim names becomes provider-owned (even if it was added by hand); a provider-owned
    membership the claim no longer names is removed, the person's personal tokens of it revoked;
    memberships added by hand in teams the claim does not name stay. Unknown team slugs are ignored:
    the provider grants access to teams, it does not create them. All of it is in the audit log.
    """
    teams = {team.slug: team for team in Team.objects.filter(slug__in=wanted)}
    current = {m.team_id: m for m in Membership.objects.select_for_update().filter(user=user).select_related("user")}
    for slug, role in wanted.items():
        team = teams.get(slug)
        if team is None:
            continue
        membership = current.pop(team.pk, None)
        if membership is None:
            membership = Membership.objects.create(team=team, user=user, role=role, source=Membership.Source.PROVIDER)
            _audit_membership(
                membership,
                LogEntry.Action.CREATE,
                {"role": [None, role]},
                reason=f"{user} added as {role} by the provider",
            )
        elif membership.role != role or not membership.from_provider:
            before = membership.role
            membership.role, membership.source = role, Membership.Source.PROVIDER
            membership.save(update_fields=["role", "source"])
            _audit_membership(
                membership,
                LogEntry.Action.UPDATE,
                {"role": [before, role]},
                reason=f"role of {user} set by the provider",
            )
    for membership in current.values():
        if membership.from_provider:
            _leave(membership, by=None, reason=f"{user} no longer in the provider's group for this team")


def _audit_organisation_role(role: OrganisationRole, action, *, by, reason: str) -> None:
    # An organisation role reaches every team: every team's leads see who was given it, and by whom.
    for team_id in Team.objects.values_list("pk", flat=True):
        LogEntry.objects.log_create(
            role,
            force_log=True,
            action=action,
            changes={"role": [None, role.role] if action == LogEntry.Action.CREATE else [role.role, None]},
            actor=by,
            additional_data={"team_id": team_id, "reason": reason},
        )


@transaction.atomic
def grant_observer(*, user, by) -> OrganisationRole:
    """Make `user` an organisation observer (read-only over all teams); only a superuser grants it."""
    if by is None or not by.is_superuser:
        raise ValidationError({"user": _("Only a superuser grants the observer role.")})
    role, created = OrganisationRole.objects.get_or_create(
        user=user, defaults={"role": OrganisationRole.Role.OBSERVER, "granted_by": by}
    )
    if created:
        _audit_organisation_role(role, LogEntry.Action.CREATE, by=by, reason=f"{user} made an observer of all teams")
    return role


@transaction.atomic
def withdraw_observer(*, user, by) -> None:
    """Take the observer role back from `user` (audited)."""
    if by is None or not by.is_superuser:
        raise ValidationError({"user": _("Only a superuser withdraws the observer role.")})
    role = OrganisationRole.objects.filter(user=user).first()
    if role is not None:
        _audit_organisation_role(role, LogEntry.Action.DELETE, by=by, reason=f"{user} no longer an observer")
        role.delete()
