"""Reads scoped to what a user may see."""

from django.db.models import OuterRef, QuerySet, Subquery

from teams.models import ApiToken, Membership, Team


def only_row(queryset: QuerySet):
    """The row of a lookup on a unique key, or None.

    Like `.first()` without the ORDER BY that `.first()` adds (the model's ordering or
    the primary key): a unique lookup has nothing to order, and on the ingest path the
    ordering costs more to compile than the query costs to run.
    """
    return next(iter(queryset.order_by()[:1]), None)


def teams_for_user(user) -> QuerySet[Team]:
    """The teams `user` belongs to (all teams for a superuser)."""
    if not user.is_authenticated:
        return Team.objects.none()
    if user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(memberships__user=user)


def membership_for(user, team) -> Membership | None:
    """The user's membership in `team`, or None when they do not belong to it."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, team=team).first()


def has_role(user, team, role: str) -> bool:
    """True when `user` holds at least `role` in `team` (superusers hold every role)."""
    if user.is_authenticated and user.is_superuser:
        return True
    membership = membership_for(user, team)
    return membership is not None and membership.allows(role)


def teams_for_request(request) -> QuerySet[Team]:
    """Teams an API caller may see: an API token's one team, else the signed-in user's teams.

    Token authentication sets `request.auth` to the token, which carries `team_id`.
    """
    token_team_id = getattr(getattr(request, "auth", None), "team_id", None)
    if token_team_id is not None:
        return Team.objects.filter(pk=token_team_id)
    return teams_for_user(request.user)


def api_tokens_for_team(team) -> QuerySet[ApiToken]:
    """The team's tokens for its tokens page, each with `holder_role`: its creator's role in the team now."""
    holder = Membership.objects.filter(team=OuterRef("team_id"), user=OuterRef("created_by_id")).values("role")[:1]
    return ApiToken.objects.filter(team=team).select_related("created_by").annotate(holder_role=Subquery(holder))
