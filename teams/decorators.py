"""Access rules of the web UI: one decorator resolves the team from the URL and checks the role.

`team_view(role)` is used by every team page: another team's URL is a 404
(never a hint that it exists), a role below `role` is a 403, and the page runs
with the team's time zone active so forms read and templates show local times.
`once` makes a POST single-use: a double submit creates nothing twice.
"""

import re
import uuid
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect

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


ONCE_FIELD = "_once"
_TOKEN_RE = re.compile(r"[0-9a-f]{32}")
_PENDING = "pending"
_DONE = "done"


def new_once_token() -> str:
    return uuid.uuid4().hex


def submitted_once_token(request) -> str:
    """The token the form came back with (re-used when the form is shown again with errors)."""
    token = request.POST.get(ONCE_FIELD, "") if request.method == "POST" else ""
    return token if _TOKEN_RE.fullmatch(token) else new_once_token()


def once(view):
    """Make a POST single-use by its form token, shared through the cache (atomic `add`).

    The first request claims the token; a duplicate arriving meanwhile or later
    creates nothing: it is sent where the first one went (or gets an empty
    htmx response). A refused submission (4xx) releases the token so the
    corrected form can be sent again.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        token = request.POST.get(ONCE_FIELD, "")
        if not _TOKEN_RE.fullmatch(token):
            return HttpResponseBadRequest(_("This form has expired: reload the page and submit it again."))
        key = f"opskaizen:once:{request.user.pk}:{token}"
        if not cache.add(key, _PENDING, timeout=24 * 3600):
            previous = cache.get(key)
            if request.htmx:
                if previous not in (None, _PENDING, _DONE):
                    return HttpResponseClientRedirect(previous)
                return HttpResponse(status=204)
            if previous not in (None, _PENDING, _DONE):
                return redirect(previous)
            return HttpResponse(_("This form was already submitted."), status=409)
        try:
            response = view(request, *args, **kwargs)
        except Exception:
            cache.delete(key)
            raise
        if response.status_code >= 400:
            cache.delete(key)
        elif response.status_code in (301, 302, 303):
            cache.set(key, response["Location"], timeout=24 * 3600)
        elif "HX-Redirect" in response:
            cache.set(key, response["HX-Redirect"], timeout=24 * 3600)
        else:
            cache.set(key, _DONE, timeout=24 * 3600)
        return response

    return wrapper
