"""Access rules of the web UI: one decorator resolves the team from the URL and checks the role.

`team_view(role)` is used by every team page, settings included, and is the only way a page
finds its team: another team's URL is a 404 (never a hint that it exists); a member of the
team whose role is below `role` gets a 403 on every such page (they know the team exists, and
the page says they lack the role rather than pretending it is not there); the page runs with
the team's time zone active so forms read and templates show local times.
An organisation observer reads a team they are not a member of as a viewer, and any write there
is a 403. `once` makes a POST single-use: a double submit creates nothing twice.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from teams.models import Membership, Team
from teams.selectors import is_observer

LAST_TEAM_SESSION_KEY = "opskaizen_last_team"


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def resolve_team(user, team_slug: str) -> tuple[Team, str]:
    """The team behind `team_slug` and the user's role in it; 404 when the user is not a member.

    An observer who is not a member reads it as a viewer (`observing` on the team says so).
    """
    if user.is_superuser:
        team = Team.objects.filter(slug=team_slug).first()
        if team is None:
            raise Http404
        return team, Membership.Role.LEAD
    membership = Membership.objects.select_related("team").filter(user=user, team__slug=team_slug).first()
    if membership is None:
        team = Team.objects.filter(slug=team_slug).first() if is_observer(user) else None
        if team is None:
            raise Http404
        team.observing = True
        return team, Membership.Role.VIEWER
    return membership.team, membership.role


def team_view(role: str = Membership.Role.VIEWER):
    """Decorate `view(request, team, ...)` served under /t/<team_slug>/: membership, role, time zone."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, team_slug, *args, **kwargs):
            team, user_role = resolve_team(request.user, team_slug)
            request.team = team
            request.team_role = user_role
            if Membership.RANK[user_role] < Membership.RANK[role]:
                raise PermissionDenied
            if getattr(team, "observing", False) and request.method not in SAFE_METHODS:
                raise PermissionDenied  # an observer reads, never writes
            if request.session.get(LAST_TEAM_SESSION_KEY) != team.slug:
                request.session[LAST_TEAM_SESSION_KEY] = team.slug
            with timezone.override(team.tzinfo):
                return view(request, team, *args, **kwargs)

        return wrapper

    return decorator
