"""When an action's Check is measured: its windows, the grace period for late data, and what the product can measure."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from improvement.models import Action, Stage, StageTransition
from incidents.models import Change, Incident

COUNT_METRICS = {
    "incidents": ("incidents", {}),
    "incidents_sev1": ("incidents", {"severity": "SEV1"}),
    "incidents_sev2": ("incidents", {"severity": "SEV2"}),
    "incidents_sev3": ("incidents", {"severity": "SEV3"}),
    "incidents_sev4": ("incidents", {"severity": "SEV4"}),
    "failed_deployments": ("changes", {}),  # filtered by failed_change() below: the metric's own definition
}


# metric → (model, later field, earlier field, time field that places a value in a window)
DURATION_METRICS = {
    "time_to_detect": (Incident, "detected_at", "started_at", "started_at"),
    "time_to_acknowledge": (Incident, "acknowledged_at", "detected_at", "started_at"),
    "time_to_mitigate": (Incident, "mitigated_at", "started_at", "started_at"),
    "time_to_resolve": (Incident, "resolved_at", "started_at", "started_at"),
    "lead_time": (Change, "deployed_at", "committed_at", "deployed_at"),
}


def entered_do_at(action: Action) -> dt.datetime | None:
    """When the action (last) entered Do, from its stage history."""
    return (
        StageTransition.objects.filter(action=action, to_stage=Stage.DO)
        .order_by("-at", "-id")
        .values_list("at", flat=True)
        .first()
    )


def measurable(action: Action) -> bool:
    """Whether the product can measure this target itself (else the team reports values with their source)."""
    if action.target_kind != Action.TargetKind.METRIC:
        return bool(action.target_kind)
    return (
        action.target_metric in COUNT_METRICS
        or action.target_metric in DURATION_METRICS
        or (action.target_metric == "change_failure_rate")
    )


def grace(action: Action) -> dt.timedelta:
    """How long after the window the data is left to settle: late incidents, late postmortems."""
    hours = dt.timedelta(hours=settings.OPSKAIZEN_CHECK_GRACE_HOURS)
    if action.target_kind == Action.TargetKind.FACTOR_CATEGORY:
        # Factors are known once the postmortem is written: wait for the team's postmortem deadline.
        return max(hours, dt.timedelta(days=settings.OPSKAIZEN_POSTMORTEM_DEADLINE_DAYS))
    return hours


def schedule(action: Action, *, now: dt.datetime | None = None) -> dict | None:
    """When the action entered Do, when its window ends, when it is measured, and days left (None: never in Do)."""
    now = now or timezone.now()
    do_at = entered_do_at(action)
    if do_at is None:
        return None
    window_end = do_at + dt.timedelta(days=action.check_window_days)
    due_at = window_end + grace(action)
    return {
        "do_at": do_at,
        "window_end": window_end,
        "due_at": due_at,
        "days_left": max(0, (window_end - now).days + (1 if (window_end - now).seconds else 0)),
        "ended": now >= window_end,
        "due": now >= due_at,
    }
