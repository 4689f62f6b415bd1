"""Reads on improvement actions, shaped for the pages that show them."""

from django.db.models import Prefetch, QuerySet

from improvement.models import OPEN_STAGES, Action, StageTransition
from teams.models import Team


def open_actions_for_board(team: Team) -> QuerySet[Action]:
    """The team's open actions with what a board card shows (one query whatever their number)."""
    return (
        Action.objects.filter(team=team, stage__in=OPEN_STAGES)
        .select_related("owner", "target_service", "target_problem")
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
