"""Read-only metrics of flexibility, speed and reliability, computed in the database.

One module for the API, the pages and the review-board agenda:

- ``build_scope(teams=..., service=..., start=..., end=...)`` — what to measure;
- ``period_figures(scope)`` — headline figures (median + p90 + count, shares, DORA bands);
- ``weekly_series(scope)`` — one point per week in the team's time zone, with XmR limits and signals;
- ``team_dashboard(team)`` — both, shaped for a dashboard;
- ``signals_for_team(team, now=...)`` — the control-chart signals of the last complete week.
"""

import datetime as dt

from django.utils import timezone

from incidents.measures.scope import Scope, build_scope
from reporting.metrics.figures import period_figures
from reporting.metrics.series import SERIES, weekly_series

__all__ = [
    "SERIES",
    "Scope",
    "build_scope",
    "dashboard",
    "period_figures",
    "signals_for_team",
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
    ("upper", "lower" or "centre"), rule ("beyond_limit" or "run_of_8"), direction ("above"/"below").
    """
    weekly = weekly_series(build_scope(teams=team, now=now))
    return [signal for series in weekly["series"].values() for signal in series["signals"]]
