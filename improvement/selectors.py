"""Reads on improvement actions, shaped for the pages that show them."""

from django.db.models import Count, Prefetch, Q, QuerySet

from improvement.models import OPEN_STAGES, Action, ReviewDecision, ReviewSession, StageTransition
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


def discussed_per_section(session: ReviewSession, kinds) -> dict[str, int]:
    """How many agenda items of each kind the board has discussed (decided anything on): one query, counted in SQL."""
    # Item ids are "<kind>:<object id>", so an item's section is the prefix of its id.
    counts = {kind: Count("item_id", distinct=True, filter=Q(item_id__startswith=f"{kind}:")) for kind in kinds}
    return session.decisions.aggregate(**counts) if counts else {}


def decisions_on_items(session: ReviewSession, item_ids) -> QuerySet[ReviewDecision]:
    """The decisions taken on these agenda items, in the order they were taken, with who and which action."""
    return session.decisions.filter(item_id__in=list(item_ids)).select_related("by", "action").order_by("at", "id")
