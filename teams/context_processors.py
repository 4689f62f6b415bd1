"""What every page's header needs: the user's teams (for the switcher), the current team and role."""

from teams.models import Membership
from teams.selectors import is_observer, teams_for_user


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    team = getattr(request, "team", None)
    role = getattr(request, "team_role", None)
    if team is None and request.resolver_match is not None:
        # Pages decorated elsewhere (settings pages of other modules) still get the header right.
        slug = request.resolver_match.kwargs.get("team_slug") or request.resolver_match.kwargs.get("slug")
        if slug:
            from teams.decorators import resolve_team

            try:
                team, role = resolve_team(user, slug)
            except Exception:
                team, role = None, None
    rank = Membership.RANK.get(role, -1) if role else -1
    return {
        "user_teams": teams_for_user(user).only("name", "slug"),
        # Cached on the user by teams_for_user: no query of its own.
        "observer": user.is_superuser or is_observer(user),
        "current_team": team,
        "current_role": role,
        "can_write": rank >= Membership.RANK[Membership.Role.MEMBER],
        "can_lead": rank >= Membership.RANK[Membership.Role.LEAD],
    }
