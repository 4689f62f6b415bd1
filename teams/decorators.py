"""Access rules of the web UI: one decorator resolves the team from the URL and checks the role.

`team_view(role)` is used by every team page, settings included, and is the only way a page
finds its team: another team's URL is a 404 (never a hint that it exists); a member of the
team whose role is below `role` gets a 403 on every such page (they know the team exists, and
the page says they lack the role rather than pretending it is not there); the page runs with
the team's time zone active so forms read and templates show local times.
`once` makes a POST single-use: a double submit creates nothing twice.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from teams.models import Membership, Team

LAST_TEAM_SESSION_KEY = "opskaizen_last_team"


def resolve_team(user, team_slug: str) -> tuple[Team, str]:
    """The team behind `team_slug` and the user's role in it; 404 when the user is not a member."""
    if user.is_superuser:
        team = Team.objects.filter(slug=team_slug).first()
        if team is None:
            raise Http404
        return team, Membership.Role.LEAD
    membership = Membership.objects.select_related("team").filter(user=user, team__slug=team_slug).first()
    if membership is None:
        raise Http404
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
            if request.session.get(LAST_TEAM_SESSION_KEY) != team.slug:
                request.session[LAST_TEAM_SESSION_KEY] = team.slug
            with timezone.override(team.tzinfo):
                return view(request, team, *args, **kwargs)

        return wrapper

    return decorator
