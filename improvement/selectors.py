"""Reads on improvement actions, shaped for the pages that show them."""

from django.db.models import Count, Prefetch, QuerySet

from improvement.models import OPEN_STAGES, Action, Recurrence, StageTransition
from incidents.models import Incident, Postmortem, TimelineEvent
from teams.models import Team


def open_actions_for_board(team: Team) -> QuerySet[Action]:
    """The team's open actions with what a board card shows (one query whatever their number)."""
    return (
        Action.objects.filter(team=team, stage__in=OPEN_STAGES)
        .select_related("owner", "target_service", "target_problem", "check_result")
        .order_by("due_date", "stage_entered_at", "id")
    )


def action_for_page(team: Team, pk: int) -> Action:
    """One action of `team` with its history, check, cycles and links; DoesNotExist for another team's."""
    return (
        Action.objects.filter(team=team)
        .select_related(
            "owner", "target_service", "target_problem", "previous_cycle", "next_cycle", "check_result", "created_by"
        )
        .prefetch_related(
            Prefetch("transitions", queryset=StageTransition.objects.select_related("by")),
            "incidents",
            "postmortems__incident",
            "problems",
            "changes",
        )
        .get(pk=pk)
    )


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
    return (
        Incident.objects.filter(team=team)
        .select_related("service", "problem", "caused_by_change", "postmortem", "created_by")
        .prefetch_related(
            Prefetch("timeline", queryset=TimelineEvent.objects.select_related("author")),
            Prefetch("actions", queryset=Action.objects.select_related("owner").order_by("-created_at")),
            Prefetch(
                "recurrence_links",
                queryset=Recurrence.objects.select_related("action", "dismissed_by").order_by("created_at", "pk"),
            ),
        )
        .get(pk=pk)
    )


def postmortem_for_page(team: Team, pk: int) -> Postmortem:
    """One postmortem of `team` with its incident, timeline, factors and actions."""
    return (
        Postmortem.objects.filter(team=team)
        .select_related("incident", "incident__service", "author", "reviewer", "reviewed_by")
        .prefetch_related(
            "factors",
            Prefetch("incident__timeline", queryset=TimelineEvent.objects.select_related("author")),
            Prefetch("actions", queryset=Action.objects.select_related("owner").order_by("-created_at")),
        )
        .get(pk=pk)
    )
