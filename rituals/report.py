"""The monthly operations report: a month of one team, or of every team a user may see, to send upward.

It belongs with the monthly review (whose decisions it lists) and reads the dashboard's figures
(reporting.metrics) over exactly the weeks the metrics API counts for ``from=<first day>&to=<last
day>``: the month widened to whole weeks, Monday to Sunday, in the team's time zone (UTC across
teams in different zones). Every number in it is therefore the API's for the same period:

- the figures of each pole, for the month and the month before, with the trajectory between them;
- control charts of the key figures' weekly series over the 26 weeks ending with the month;
- the problems that recurred, the actions verified effective, the decisions of the month's reviews.
"""

import datetime as dt

from reporting import charts, metrics, selectors
from reporting.metrics.by_team import figures_by_team
from reporting.metrics.catalogue import FIGURES, figure_value
from reporting.views import POLES, format_value
from rituals.models import ReviewDecision

CHART_WEEKS = 26
LISTED = 20
# The trajectory reads as flat under this relative change.
FLAT_WITHIN = 0.05
# Which way is better for each figure: a figure absent here (a count of deployments…) has no good side.
BETTER = {
    "time_to_mitigate": "down",
    "change_failure_rate": "down",
    "incidents": "down",
    "repeat_incident_rate": "down",
    "time_to_acknowledge": "down",
    "time_to_resolve": "down",
    "lead_time": "down",
    "time_to_postmortem": "down",
    "improvement_cycle_time": "down",
    "emergency_change_rate": "down",
    "standard_change_share": "up",
    "deployment_frequency": "up",
    "measured_share": "up",
    "effective_share": "up",
    "overdue_actions": "down",
}


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    """The first and the last day of `month` (any day in it)."""
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def last_complete_month(today: dt.date) -> dt.date:
    return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def trajectory(key: str, now, before) -> str:
    """ "up", "down" or "flat" from the month before to this one; "" when either is missing."""
    if now is None or before is None:
        return ""
    if before == 0:
        return "flat" if now == 0 else "up"
    change = (now - before) / abs(before)
    return "flat" if abs(change) < FLAT_WITHIN else ("up" if change > 0 else "down")


def _figure_rows(figures: dict, previous: dict, pole: str) -> list[dict]:
    rows = []
    for key, spec in FIGURES.items():
        if spec.pole != pole:
            continue
        this, before = figure_value(figures, key), figure_value(previous, key)
        direction = trajectory(key, this["value"], before["value"])
        better = BETTER.get(key)
        rows.append(
            {
                "key": key,
                "label": spec.label,
                "key_figure": spec.key_figure,
                "now": spec.now,
                "raw": this["value"],
                "value": format_value(spec.reading, this["value"]),
                "count": this["count"],
                "of": this["of"],
                "previous_raw": before["value"],
                "previous": format_value(spec.reading, before["value"]),
                "trajectory": direction,
                "better": "" if not better or direction in ("", "flat") else ("yes" if direction == better else "no"),
            }
        )
    return rows


def _charts(weekly: dict, chart_prefix: str) -> list[dict]:
    found = []
    for spec in FIGURES.values():
        if not (spec.key_figure and spec.series):
            continue
        series = weekly["series"][spec.series]
        found.append(
            {
                "key": spec.series,
                "label": series["label"],
                "svg": charts.line_chart(series, weekly["weeks"], chart_id=f"{chart_prefix}-{spec.series}"),
                "signals": series["signals"],
            }
        )
    return found


def decisions(scope, *, limit: int = LISTED):
    """Decisions taken in the review sessions held in the report's weeks (weekly and monthly boards)."""
    found = (
        ReviewDecision.objects.filter(
            team_id__in=scope.team_ids, session__occurrence__gte=scope.start, session__occurrence__lt=scope.end
        )
        .exclude(kind=ReviewDecision.Kind.DISCUSSED)
        .select_related("session__ritual", "team", "action")
        .order_by("session__occurrence", "at", "pk")
    )
    return found.count(), list(found[:limit])


def monthly_report(*, teams, month: dt.date, across: bool = False) -> dict:
    """The report for `teams` (a Team, or the list of teams a user may see) over `month`."""
    first, last = month_bounds(month)
    scope = metrics.build_scope(teams=teams, start=first, end=last)
    previous_first, previous_last = month_bounds(first - dt.timedelta(days=1))
    previous = metrics.build_scope(teams=teams, start=previous_first, end=previous_last)
    chart_scope = metrics.build_scope(teams=teams, start=last - dt.timedelta(weeks=CHART_WEEKS - 1), end=last)
    figures = metrics.period_figures(scope)
    previous_figures = metrics.period_figures(previous)
    weekly = metrics.weekly_series(chart_scope)
    count, listed = decisions(scope)
    report = {
        "month": first,
        "month_end": last,
        "scope": scope,
        "query": {"from": first.isoformat(), "to": last.isoformat()},
        "chart_query": {"from": chart_scope.first_day.isoformat(), "to": last.isoformat()},
        "period": {"from": scope.first_day, "to": scope.last_day, "weeks": len(scope.weeks), "timezone": scope.tz.key},
        "poles": [
            {"key": pole, "label": label, "rows": _figure_rows(figures, previous_figures, pole)}
            for pole, label in POLES.items()
        ],
        "charts": _charts(weekly, "report"),
        "problems": selectors.recurring_problems(scope),
        "verified": list(selectors.verified_effective(scope, limit=LISTED)),
        "decisions": listed,
        "decisions_count": count,
        "teams": [],
    }
    if across:
        by_team = figures_by_team(scope)
        keys = [key for key, spec in FIGURES.items() if spec.key_figure]
        report["team_keys"] = [FIGURES[key] for key in keys]
        report["teams"] = [
            {
                "team": team,
                "cells": [
                    {
                        "key": key,
                        "raw": figure_value(by_team[team.pk], key)["value"],
                        "value": format_value(FIGURES[key].reading, figure_value(by_team[team.pk], key)["value"]),
                    }
                    for key in keys
                ],
            }
            for team in teams
        ]
    return report
