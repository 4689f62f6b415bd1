"""The dashboard's figures and weekly series for many teams at once, one team per entry.

The same aggregates as ``period_figures`` and ``weekly_series``, grouped by team in the database:
the number of queries does not grow with the number of teams. All the teams share the scope's
weeks (their common time zone, or UTC across zones, as ``build_scope`` chooses).
"""

import datetime as dt

from django.utils import timezone

from incidents.measures.scope import Scope
from reporting.metrics import queries
from reporting.metrics.figures import assemble, mtbf_by_service, sources
from reporting.metrics.series import build_series


def _empty(aggregates: dict) -> dict:
    """What .aggregate() returns over no row: counts are 0, percentiles None (a team with nothing there)."""
    return {name: 0 if type(expression).__name__ == "Count" else None for name, expression in aggregates.items()}


def figures_by_team(scope: Scope, *, now: dt.datetime | None = None) -> dict[int, dict]:
    """{team id: period_figures of that team alone over the scope's weeks}: one query per source."""
    now = now or timezone.now()
    grouped = {}
    for source, (queryset, aggregates) in sources(scope, now).items():
        rows = queryset.order_by().values("team_id").annotate(**aggregates)
        grouped[source] = ({row["team_id"]: row for row in rows}, _empty(aggregates))
    mtbf = mtbf_by_service(scope)
    factor_repeats = queries.repeat_factor_counts(scope)
    found = {}
    for team_id in scope.team_ids:
        one = Scope((team_id,), scope.service_id, scope.tz, scope.start, scope.end)
        rows = {source: by_team.get(team_id, empty) for source, (by_team, empty) in grouped.items()}
        found[team_id] = assemble(
            one,
            rows,
            [row for row in mtbf if row["team"] == team_id],
            repeat_factor=factor_repeats.get(team_id, 0),
        )
    return found


def _by_team_week(queryset, field: str, aggregates: dict, scope: Scope) -> dict[int, dict[dt.date, dict]]:
    rows = (
        queryset.annotate(week=queries.week_of(field, scope))
        .order_by()
        .values("team_id", "week")
        .annotate(**aggregates)
        .order_by("team_id", "week")
    )
    found: dict[int, dict[dt.date, dict]] = {}
    for row in rows:
        found.setdefault(row["team_id"], {})[timezone.localtime(row["week"], scope.tz).date()] = row
    return found


def weekly_series_by_team(scope: Scope) -> dict[int, dict]:
    """{team id: weekly_series of that team alone}: five grouped queries for every team together."""
    by_source = {
        "incidents": _by_team_week(
            queries.incidents(scope), "started_at", queries.incident_aggregates(repeat_breakdown=False), scope
        ),
        "changes": _by_team_week(
            queries.changes(scope), "deployed_at", queries.change_aggregates(scope.team_ids), scope
        ),
        "postmortems": _by_team_week(
            queries.postmortems(scope), "published_at", queries.postmortem_aggregates(), scope
        ),
        "transitions": _by_team_week(queries.transitions(scope), "at", queries.transition_aggregates(), scope),
    }
    carried = {
        row["team_id"]: row
        for row in queries.transitions(scope, before_start=True)
        .order_by()
        .values("team_id")
        .annotate(**queries.wip_before_aggregates())
    }
    found = {}
    for team_id in scope.team_ids:
        rows = {source: dict(by_team.get(team_id, {})) for source, by_team in by_source.items()}
        before = carried.get(team_id, {"opened": 0, "finished": 0})
        wip = before["opened"] - before["finished"]
        for week in scope.weeks:
            row = rows["transitions"][week] = dict(rows["transitions"].get(week, {}))
            wip += (row.get("actions_opened") or 0) - (row.get("actions_finished") or 0)
            row["wip"] = wip
        found[team_id] = build_series(rows, scope.weeks, tz=scope.tz.key)
    return found
