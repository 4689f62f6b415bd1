"""Reads on incidents, already shaped for the pages that show them."""

from django.db.models import Count, Prefetch, QuerySet

from incidents.models import Incident, Postmortem, TimelineEvent
from teams.models import Team


def incidents_for_team(team: Team) -> QuerySet[Incident]:
    """The team's incidents with what a list row shows (service, problem, postmortem, action count)."""
    return (
        Incident.objects.filter(team=team)
        .select_related("service", "problem", "postmortem")
        .annotate(action_count=Count("actions", distinct=True))
        .order_by("-started_at", "-id")
    )


def incident_for_page(team: Team, pk: int) -> Incident:
    """One incident of `team` with its timeline, links and actions; DoesNotExist for another team's."""
    from improvement.models import Action

    return (
        Incident.objects.filter(team=team)
        .select_related("service", "problem", "caused_by_change", "postmortem", "created_by")
        .prefetch_related(
            Prefetch("timeline", queryset=TimelineEvent.objects.select_related("author")),
            Prefetch("actions", queryset=Action.objects.select_related("owner").order_by("-created_at")),
        )
        .get(pk=pk)
    )


def postmortem_for_page(team: Team, pk: int) -> Postmortem:
    """One postmortem of `team` with its incident, timeline, factors and actions."""
    from improvement.models import Action

    return (
        Postmortem.objects.filter(team=team)
        .select_related("incident", "incident__service", "author")
        .prefetch_related(
            "factors",
            Prefetch("incident__timeline", queryset=TimelineEvent.objects.select_related("author")),
            Prefetch("actions", queryset=Action.objects.select_related("owner").order_by("-created_at")),
        )
        .get(pk=pk)
    )
