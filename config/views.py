"""Project-level views: the landing page (the health check is config/health.py)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from teams.decorators import LAST_TEAM_SESSION_KEY
from teams.selectors import teams_for_user


@login_required
def home(request):
    """Straight to the team used last (or the first one); a page explaining what to do without a team."""
    teams = teams_for_user(request.user)
    last = request.session.get(LAST_TEAM_SESSION_KEY)
    team = (teams.filter(slug=last).first() if last else None) or teams.first()
    if team is not None:
        return redirect("teams:home", team.slug)
    return render(request, "home.html")
