"""The audit log page of a team, for its leads."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from teams.audit import audit_log_for_team
from teams.models import Membership
from teams.selectors import has_role, teams_for_user


@login_required
def audit_log(request, team_slug):
    # Another team's page does not exist for this user; a non-lead member is not allowed to see it.
    team = get_object_or_404(teams_for_user(request.user), slug=team_slug)
    if not has_role(request.user, team, Membership.Role.LEAD):
        raise Http404
    page = Paginator(audit_log_for_team(team), 50).get_page(request.GET.get("page"))
    return render(request, "teams/audit_log.html", {"team": team, "page": page})
