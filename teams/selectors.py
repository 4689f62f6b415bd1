"""Reads scoped to what a user may see."""

import datetime as dt

from django.db.models import Count, Min, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone

from teams.models import Integration, Membership, Team, WebhookDelivery

# How far back the integrations page counts failed deliveries: recent failures are news, a failure
# of last quarter that nobody re-applied is history (the delivery log still lists it).
RECENT_FAILURES = dt.timedelta(days=7)
BODY_EXCERPT_CHARS = 2000


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


def deliveries_for_integration(integration: Integration) -> QuerySet[WebhookDelivery]:
    """The integration's deliveries for its log, newest first, with a body excerpt instead of the body.

    The raw body can be megabytes of vendor JSON: the page reads its first characters only (one more
    than it shows, so that `truncatechars:BODY_EXCERPT_CHARS` marks a cut).
    """
    return (
        WebhookDelivery.objects.filter(integration=integration)
        .defer("body", "headers")
        .annotate(body_excerpt=Substr("body", 1, BODY_EXCERPT_CHARS + 1))
        .order_by("-received_at", "-id")
    )


def delivery_counts_by_integration(team: Team) -> dict[int, dict]:
    """{integration id: {"queued", "failed" (in RECENT_FAILURES), "oldest_queued"}} in one query."""
    queued, failed = Q(outcome=WebhookDelivery.Outcome.QUEUED), Q(outcome=WebhookDelivery.Outcome.FAILED)
    rows = (
        WebhookDelivery.objects.filter(team=team)
        .filter(queued | (failed & Q(received_at__gte=timezone.now() - RECENT_FAILURES)))
        .values("integration_id")
        .annotate(
            queued=Count("id", filter=queued),
            failed=Count("id", filter=failed),
            oldest_queued=Min("received_at", filter=queued),
        )
        .order_by()
    )
    return {row.pop("integration_id"): row for row in rows}
