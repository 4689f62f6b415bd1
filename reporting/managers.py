"""The managers' view: every team the user may see, their poles side by side, and what recurred or held.

A member reads their own teams; an organisation observer (or a superuser) reads every team. The
figures are the dashboard's (reporting.metrics), grouped by team in the database: the page's
queries do not grow with the number of teams.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.replica import replica_reads
from reporting import metrics, selectors
from reporting.metrics.by_team import figures_by_team, weekly_series_by_team
from reporting.metrics.catalogue import FIGURES, figure_value
from reporting.views import POLES, format_value
from teams.selectors import is_observer, teams_visible_to

# The trend compares the mean of the last TREND_WEEKS weeks with the series' centre line.
TREND_WEEKS = 4
# A change under this share of the centre line reads as flat.
FLAT_WITHIN = 0.05


def trend(series: dict) -> str:
    """ "up", "down" or "flat": the last weeks' mean against the centre line; "" without limits or data."""
    centre = (series.get("limits") or {}).get("centre")
    recent = [value for value in series["values"][-TREND_WEEKS:] if value is not None]
    if not recent or centre is None:
        return ""
    mean = sum(recent) / len(recent)
    if not centre:
        return "up" if mean else "flat"
    change = (mean - centre) / abs(centre)
    return "flat" if abs(change) < FLAT_WITHIN else ("up" if change > 0 else "down")


def team_rows(teams, figures: dict, weekly: dict) -> list[dict]:
    """One row per pole and team: each key figure's value, its series (for a sparkline) and its trend."""
    poles = []
    for pole, label in POLES.items():
        keys = [key for key, spec in FIGURES.items() if spec.pole == pole and spec.key_figure]
        rows = []
        for team in teams:
            cells = []
            for key in keys:
                spec = FIGURES[key]
                series = weekly[team.pk]["series"].get(spec.series) if spec.series else None
                cells.append(
                    {
                        "key": key,
                        "value": format_value(spec.reading, figure_value(figures[team.pk], key)["value"]),
                        "values": series["values"] if series else None,
                        "limits": series["limits"] if series else None,
                        "signals": series["signals"] if series else [],
                        "trend": trend(series) if series else "",
                    }
                )
            rows.append({"team": team, "cells": cells})
        poles.append({"key": pole, "label": label, "figures": [FIGURES[key] for key in keys], "rows": rows})
    return poles


def across_teams(user, *, now=None) -> dict:
    """What the managers' view shows, for the teams `user` may see (shared with the monthly report)."""
    now = now or timezone.now()
    teams = list(teams_visible_to(user).order_by("name", "pk"))
    if not teams:
        return {"teams": [], "poles": [], "problems": [], "verified": [], "overridden": [], "period": None}
    scope = metrics.build_scope(teams=teams, now=now)
    figures = figures_by_team(scope, now=now)
    weekly = weekly_series_by_team(scope)
    return {
        "teams": teams,
        "scope": scope,
        "figures": figures,
        "weekly": weekly,
        "poles": team_rows(teams, figures, weekly),
        "problems": selectors.recurring_problems(scope),
        "verified": list(selectors.verified_effective(scope)),
        "overridden": list(selectors.overridden_checks(scope)),
        "period": {"from": scope.first_day, "to": scope.last_day, "weeks": len(scope.weeks), "timezone": scope.tz.key},
    }


@require_GET
@login_required
@replica_reads
def managers(request):
    """Every team the user may see, side by side (their own teams; every team for an observer)."""
    context = across_teams(request.user)
    context["observer"] = request.user.is_superuser or is_observer(request.user)
    return render(request, "reporting/managers.html", context)
