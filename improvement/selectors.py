"""Reads on improvement actions, shaped for the pages that show them."""

from django.db.models import Count, F, Max, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from improvement.models import OPEN_STAGES, Action, ProblemMerge, Recurrence, Stage, StageTransition
from incidents.models import Incident, Postmortem, Problem, TimelineEvent
from teams.models import Team

BOARD_ORDER = ("due_date", "stage_entered_at", "id")


def open_actions_for_board(team: Team) -> QuerySet[Action]:
    """The team's open actions with what a board card shows (one query whatever their number)."""
    return (
        Action.objects.filter(team=team, stage__in=OPEN_STAGES)
        .select_related("owner", "target_service", "target_problem", "check_result")
        .order_by(*BOARD_ORDER)
    )


def board_columns(actions: QuerySet[Action], *, per_column: int) -> QuerySet[Action]:
    """The first `per_column` cards of each stage of `actions`, each with its column's total (`column_count`).

    One query whatever the backlog: a window numbers the cards of each stage in board order and
    counts them, so a team with thousands of open actions renders a few dozen cards.
    """
    return (
        actions.annotate(
            column_rank=Window(
                RowNumber(), partition_by=[F("stage")], order_by=[F(name).asc() for name in BOARD_ORDER]
            ),
            column_count=Window(Count("id"), partition_by=[F("stage")]),
        )
        .filter(column_rank__lte=per_column)
        .order_by("stage", *BOARD_ORDER)
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


def problems_for_team(team: Team) -> QuerySet[Problem]:
    """The team's problems (merged ones left out) with their incident count, last incident and linked actions."""
    return (
        Problem.objects.filter(team=team, merged_into__isnull=True)
        .select_related("service")
        .annotate(incident_count=Count("incidents", distinct=True), last_incident_at=Max("incidents__started_at"))
        .prefetch_related(
            Prefetch("actions", queryset=Action.objects.select_related("check_result").order_by("-created_at", "-id"))
        )
        .order_by(F("last_incident_at").desc(nulls_last=True), "-created_at", "-id")
    )


def problem_for_page(team: Team, pk: int) -> Problem:
    """One problem of `team` with its incidents (oldest first, for the timeline); DoesNotExist for another team's."""
    return (
        Problem.objects.filter(team=team)
        .select_related("service", "merged_into")
        .prefetch_related(
            Prefetch("incidents", queryset=Incident.objects.select_related("service").order_by("started_at", "id"))
        )
        .get(pk=pk)
    )


def actions_of_problem(problem: Problem) -> QuerySet[Action]:
    """Actions linked to the problem or aimed at it, with their verdicts."""
    return (
        Action.objects.filter(Q(problems=problem) | Q(target_problem=problem), team_id=problem.team_id)
        .distinct()
        .select_related("owner", "check_result")
        .order_by("-created_at", "-id")
    )


def recurrences_of_problem(problem: Problem) -> QuerySet[Recurrence]:
    """The recurrence history: incidents that brought back a standardised action of this problem."""
    return (
        Recurrence.objects.filter(
            Q(incident__problem=problem) | Q(action__target_problem=problem) | Q(action__problems=problem),
            action__team_id=problem.team_id,
        )
        .distinct()
        .select_related("incident", "action", "dismissed_by")
        .order_by("created_at", "pk")
    )


def merges_of_problem(problem: Problem) -> QuerySet[ProblemMerge]:
    """Merges into and out of the problem, newest first."""
    return (
        ProblemMerge.objects.filter(Q(source=problem) | Q(target=problem), team_id=problem.team_id)
        .select_related("source", "target", "merged_by", "undone_by")
        .order_by("-merged_at", "-id")
    )


def open_actions_on_service(service) -> QuerySet[Action]:
    """The open actions aimed at a service, soonest due first."""
    return (
        Action.objects.filter(team_id=service.team_id, target_service=service, stage__in=OPEN_STAGES)
        .select_related("owner")
        .order_by(F("due_date").asc(nulls_last=True), "id")
    )


CLOSED_STAGES = (Stage.DONE, Stage.ABANDONED, Stage.WITHDRAWN)


def archived_actions(team: Team) -> QuerySet[Action]:
    """The team's finished cycles (done, abandoned, withdrawn), most recently closed first, with their verdicts."""
    return (
        Action.objects.filter(team=team, stage__in=CLOSED_STAGES)
        .select_related("owner", "target_service", "target_problem", "check_result")
        .order_by("-stage_entered_at", "-id")
    )
