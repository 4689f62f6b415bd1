"""The audit log page of a team, for its leads."""

from django.core.paginator import Paginator
from django.shortcuts import render

from core.audit import audit_log_for_team
from teams.decorators import team_view
from teams.models import Membership


@team_view(Membership.Role.LEAD)
def audit_log(request, team):
    page = Paginator(audit_log_for_team(team), 50).get_page(request.GET.get("page"))
    return render(request, "teams/audit_log.html", {"team": team, "page": page})
