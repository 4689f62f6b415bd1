"""Project-level views: the liveness/readiness probe and the landing page."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from teams.decorators import LAST_TEAM_SESSION_KEY
from teams.selectors import teams_for_user


@require_GET
def healthz(request):
    """Ready when the database answers; load balancers poll this."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok", "database": "up"})


@login_required
def home(request):
    """Straight to the team used last (or the first one); a page explaining what to do without a team."""
    teams = teams_for_user(request.user)
    last = request.session.get(LAST_TEAM_SESSION_KEY)
    team = (teams.filter(slug=last).first() if last else None) or teams.first()
    if team is not None:
        return redirect("teams:home", team.slug)
    return render(request, "home.html")
