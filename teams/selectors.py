"""Reads scoped to what a user may see."""

from django.db.models import OuterRef, QuerySet, Subquery

from teams.models import ApiToken, Membership, OrganisationRole, Team


def only_row(queryset: QuerySet):
    """The row of a lookup on a unique key, or None.

    Like `.first()` without the ORDER BY that `.first()` adds (the model's ordering or
    the primary key): a unique lookup has nothing to order, and on the ingest path the
    ordering costs more to compile than the query costs to run.
    """
    return next(iter(queryset.order_by()[:1]), None)


def is_observer(user) -> bool:
    """True when `user` holds the organisation-level observer role (read-only over every team)."""
    if not user.is_authenticated:
        return False
    cached = getattr(user, "_opskaizen_observer", None)
    if cached is None:
        cached = OrganisationRole.objects.filter(user=user, role=OrganisationRole.Role.OBSERVER).exists()
        user._opskaizen_observer = cached
    return cached


def teams_visible_to(user) -> QuerySet[Team]:
    """The teams this user may see: their own, or all of them for a superuser or an observer.

    Seeing is not writing: an observer's rights to write come from their memberships alone
    (`has_role`), and `team_view` refuses any write to a team they only observe.
    """
    if not user.is_authenticated:
        return Team.objects.none()
    if user.is_superuser or is_observer(user):
        return Team.objects.all()
    return Team.objects.filter(memberships__user=user)


teams_for_user = teams_visible_to


def membership_for(user, team) -> Membership | None:
    """The user's membership in `team`, or None when they do not belong to it."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, team=team).first()


def has_role(user, team, role: str) -> bool:
    """True when `user` holds at least `role` in `team` (superusers hold every role, observers none)."""
    if user.is_authenticated and user.is_superuser:
        return True
    membership = membership_for(user, team)
    return membership is not None and membership.allows(role)


def teams_for_request(request) -> QuerySet[Team]:
    """Teams an API caller may see: an API token's one team, else the signed-in user's teams.

    Token authentication sets `request.auth` to the token, which carries `team_id`. A write
    (POST, PATCH, DELETE…) by a person sees only the teams they are a member of.
    """
    token_team_id = getattr(getattr(request, "auth", None), "team_id", None)
    if token_team_id is not None:
        return Team.objects.filter(pk=token_team_id)
    user = request.user
    if request.method not in ("GET", "HEAD", "OPTIONS") and user.is_authenticated and not user.is_superuser:
        # A write reaches only the caller's own teams: an observer's view of the others is read-only.
        return Team.objects.filter(memberships__user=user)
    return teams_visible_to(user)


def api_tokens_for_team(team) -> QuerySet[ApiToken]:
    """The team's tokens for its tokens page, each with `holder_role`: its creator's role in the team now."""
    holder = Membership.objects.filter(team=OuterRef("team_id"), user=OuterRef("created_by_id")).values("role")[:1]
    return ApiToken.objects.filter(team=team).select_related("created_by").annotate(holder_role=Subquery(holder))
