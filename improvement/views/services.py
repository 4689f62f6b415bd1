"""The service catalog and a service's page: its figures, problems, changes, incidents and open actions.

In improvement because a service's page shows the actions aimed at it. The figures are the
dashboard's own aggregates (incidents.measures.queries) over the service's last complete weeks.
"""

from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from improvement import selectors
from incidents.measures import queries
from incidents.measures.scope import build_scope
from incidents.models import Incident, Problem
from incidents.selectors import changes_for_team
from teams.decorators import team_view
from teams.models import Service

RECENT = 10


@require_GET
@team_view()
def service_list(request, team):
    """The team's services: tier, owner, description and links, with their open incidents and problems."""
    services = (
        Service.objects.filter(team=team)
        .select_related("owner")
        .annotate(
            open_incidents=Count("incidents", filter=Q(incidents__resolved_at__isnull=True), distinct=True),
            open_problems=Count(
                "problems",
                filter=Q(problems__merged_into__isnull=True) & ~Q(problems__status=Problem.Status.RESOLVED),
                distinct=True,
            ),
        )
        .order_by("tier", "name", "pk")
    )
    return render(request, "services/list.html", {"team": team, "services": services})


@require_GET
@team_view()
def service_detail(request, team, slug):
    service = Service.objects.filter(team=team, slug=slug).select_related("owner").first()
    if service is None:
        raise Http404
    scope = build_scope(teams=team, service=service)
    inc = queries.incidents(scope).aggregate(**queries.incident_aggregates(repeat_breakdown=False))
    chg = queries.changes(scope).aggregate(**queries.change_aggregates(scope.team_ids))
    deployments = chg["deployments"]
    figures = {
        "incidents": inc["incidents"],
        "unresolved": inc["unresolved"],
        "time_to_restore": {"median": inc["time_to_mitigate_p50"], "p90": inc["time_to_mitigate_p90"]},
        "time_to_restore_count": inc["time_to_mitigate_n"],
        "deployments": deployments,
        "failed_deployments": chg["failed_deployments"],
        "change_failure_rate": chg["failed_deployments"] / deployments if deployments else None,
    }
    problems = (
        Problem.objects.filter(team=team, service=service, merged_into__isnull=True)
        .annotate(incident_count=Count("incidents"))
        .order_by("status", "-created_at", "-id")
    )
    context = {
        "team": team,
        "service": service,
        "scope": scope,
        "figures": figures,
        "problems": problems,
        "changes": changes_for_team(team).filter(service=service)[:RECENT],
        "incidents": Incident.objects.filter(team=team, service=service).order_by("-started_at", "-id")[:RECENT],
        "actions": selectors.open_actions_on_service(service),
    }
    return render(request, "services/detail.html", context)
