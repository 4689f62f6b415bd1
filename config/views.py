"""Project-level views: the liveness/readiness probe and the landing page."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

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
    return render(request, "home.html", {"teams": teams_for_user(request.user)})
