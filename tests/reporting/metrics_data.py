"""Small hand-built data for the metrics tests: every timestamp explicit, in UTC."""

import datetime as dt

from improvement.models import StageTransition

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    """'2026-03-17 08:00' read as UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def move(action, to_stage: str, when: dt.datetime, from_stage: str = "") -> StageTransition:
    """A stage transition written directly (the flow metrics read transitions only)."""
    action.stage = to_stage
    action.stage_entered_at = when
    action.save(update_fields=["stage", "stage_entered_at"])
    return StageTransition.objects.create(
        team=action.team, action=action, from_stage=from_stage, to_stage=to_stage, at=when
    )
