"""Read-only metrics of flexibility, speed and reliability, computed in the database.

One module for the API, the pages and the review-board agenda:

- ``build_scope(teams=..., service=..., start=..., end=...)`` — what to measure;
- ``period_figures(scope)`` — headline figures (median + p90 + count, shares, DORA bands);
- ``weekly_series(scope)`` — one point per week in the team's time zone, with XmR limits and signals;
- ``team_dashboard(team)`` — both, shaped for a dashboard;
- ``signals_for_team(team, now=...)`` — the control-chart signals of the last complete week, and the
  targets crossed by a sustained run;
- ``target_status(weekly, targets)`` — each target with its distance and trend.
"""

import datetime as dt

from django.utils import timezone

from incidents.measures.scope import Scope, build_scope
from reporting.metrics import control
from reporting.metrics.figures import period_figures
from reporting.metrics.series import SERIES, weekly_series

__all__ = [
    "SERIES",
    "Scope",
    "build_scope",
    "dashboard",
    "period_figures",
    "signals_for_team",
    "target_status",
    "team_dashboard",
    "weekly_series",
]


def dashboard(scope: Scope, *, now: dt.datetime | None = None) -> dict:
    """Figures, weekly series with limits, and the signals, for one scope."""
    weekly = weekly_series(scope)
    return {
        "figures": period_figures(scope, now=now),
        "weeks": weekly["weeks"],
        "timezone": weekly["timezone"],
        "series": weekly["series"],
        "signals": [signal for series in weekly["series"].values() for signal in series["signals"]],
    }


def team_dashboard(team, *, service=None, start=None, end=None, now: dt.datetime | None = None) -> dict:
    """A team's dashboard (default: the last 26 complete weeks in the team's time zone)."""
    now = now or timezone.now()
    return dashboard(build_scope(teams=team, service=service, start=start, end=end, now=now), now=now)


def signals_for_team(team, *, now: dt.datetime) -> list[dict]:
    """Signals of the last complete week: dicts of plain JSON values (fit for a frozen agenda).

    Keys: metric (series key), label, week (ISO date of its Monday), value, limit, which
    ("upper", "lower", "centre" or "target"), rule ("beyond_limit", "run_of_8" or "target_run"),
    direction ("above"/"below"). A target's signal is its crossing by a sustained run (control.target_run).
    """
    from reporting.models import Target

    weekly = weekly_series(build_scope(teams=team, now=now))
    found = [signal for series in weekly["series"].values() for signal in series["signals"]]
    found += [
        status["signal"] for status in target_status(weekly, Target.objects.filter(team=team)) if status["signal"]
    ]
    return found


def target_status(weekly: dict, targets) -> list[dict]:
    """Each target against its weekly series: the last week's value, its distance, the weeks missed, the signal."""
    found = []
    weeks = weekly["weeks"]
    for target in targets:
        series = weekly["series"].get(target.metric)
        if series is None:
            continue
        values = series["values"]
        last = next((value for value in reversed(values) if value is not None), None)
        signal = control.target_run(values, target.value, target.bound)
        found.append(
            {
                "target": target,
                "series": series,
                "last": last,
                "distance": None if last is None else last - target.value,
                "weeks_missed": control.weeks_missing(values, target.value, target.bound),
                "weeks_read": min(len([v for v in values if v is not None]), control.RUN_LENGTH),
                "signal": signal
                and {"metric": target.metric, "label": series["label"], "week": weeks[-1].isoformat(), **signal},
            }
        )
    return found
