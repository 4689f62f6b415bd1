"""Weekly series (one point per week, in the scope's time zone) with XmR limits and signals.

Four grouped SQL queries (incidents, changes, postmortems, stage transitions)
plus one for the work in progress carried into the range: the count does not
depend on the number of weeks or rows.
"""

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents.measures.scope import Scope
from reporting.metrics import control, queries


def _ratio(numerator, denominator):
    return numerator / denominator if denominator else None


def _count(key):
    return lambda row: (row.get(key) or 0, None)


def _duration(prefix, which):
    return lambda row: (row.get(f"{prefix}_{which}"), row.get(f"{prefix}_n") or 0)


def _share(numerator, denominator):
    return lambda row: (_ratio(row.get(numerator) or 0, row.get(denominator) or 0), row.get(denominator) or 0)


def _spread(row):
    return (_ratio(row.get("lead_time_p90"), row.get("lead_time_p50")), row.get("lead_time_n") or 0)


# key → (pole, label, unit, source, value function(row) → (value, count behind it)).
SERIES = {
    "incidents": ("reliability", _("Incidents"), "count", "incidents", _count("incidents")),
    "incidents_sev1": ("reliability", _("SEV1 incidents"), "count", "incidents", _count("incidents_sev1")),
    "incidents_sev2": ("reliability", _("SEV2 incidents"), "count", "incidents", _count("incidents_sev2")),
    "incidents_sev3": ("reliability", _("SEV3 incidents"), "count", "incidents", _count("incidents_sev3")),
    "incidents_sev4": ("reliability", _("SEV4 incidents"), "count", "incidents", _count("incidents_sev4")),
    "time_to_detect_p50": (
        "reliability",
        _("Time to detect, median"),
        "seconds",
        "incidents",
        _duration("time_to_detect", "p50"),
    ),
    "time_to_detect_p90": (
        "reliability",
        _("Time to detect, p90"),
        "seconds",
        "incidents",
        _duration("time_to_detect", "p90"),
    ),
    "time_to_acknowledge_p50": (
        "reliability",
        _("Time to acknowledge, median"),
        "seconds",
        "incidents",
        _duration("time_to_acknowledge", "p50"),
    ),
    "time_to_acknowledge_p90": (
        "reliability",
        _("Time to acknowledge, p90"),
        "seconds",
        "incidents",
        _duration("time_to_acknowledge", "p90"),
    ),
    "time_to_mitigate_p50": (
        "reliability",
        _("Time to restore (mitigate), median"),
        "seconds",
        "incidents",
        _duration("time_to_mitigate", "p50"),
    ),
    "time_to_mitigate_p90": (
        "reliability",
        _("Time to restore (mitigate), p90"),
        "seconds",
        "incidents",
        _duration("time_to_mitigate", "p90"),
    ),
    "time_to_resolve_p50": (
        "reliability",
        _("Time to resolve, median"),
        "seconds",
        "incidents",
        _duration("time_to_resolve", "p50"),
    ),
    "time_to_resolve_p90": (
        "reliability",
        _("Time to resolve, p90"),
        "seconds",
        "incidents",
        _duration("time_to_resolve", "p90"),
    ),
    "repeat_incident_rate": (
        "reliability",
        _("Repeat-incident rate"),
        "ratio",
        "incidents",
        _share("repeat_problem", "incidents"),
    ),
    "change_failure_rate": (
        "reliability",
        _("Change failure rate"),
        "ratio",
        "changes",
        _share("failed_deployments", "deployments"),
    ),
    "deployments": ("speed", _("Deployments"), "count", "changes", _count("deployments")),
    "lead_time_p50": ("speed", _("Lead time for changes, median"), "seconds", "changes", _duration("lead_time", "p50")),
    "lead_time_p90": ("speed", _("Lead time for changes, p90"), "seconds", "changes", _duration("lead_time", "p90")),
    "time_to_postmortem_p50": (
        "speed",
        _("Incident to published postmortem, median"),
        "seconds",
        "postmortems",
        _duration("time_to_postmortem", "p50"),
    ),
    "cycle_time_p50": (
        "speed",
        _("Improvement cycle time (Plan → Act), median"),
        "seconds",
        "transitions",
        _duration("cycle_time", "p50"),
    ),
    "standard_change_share": (
        "flexibility",
        _("Share of standard changes"),
        "ratio",
        "changes",
        _share("standard_changes", "deployments"),
    ),
    "emergency_change_rate": (
        "flexibility",
        _("Emergency-change rate"),
        "ratio",
        "changes",
        _share("emergency_changes", "deployments"),
    ),
    "lead_time_spread": ("flexibility", _("Lead-time spread (p90 / median)"), "ratio", "changes", _spread),
    "improvement_throughput": (
        "flexibility",
        _("Improvement throughput (actions done)"),
        "count",
        "transitions",
        _count("actions_done"),
    ),
    "improvement_wip": (
        "flexibility",
        _("Improvement work in progress (end of week)"),
        "count",
        "transitions",
        _count("wip"),
    ),
}


def _by_week(queryset, field: str, aggregates: dict, scope: Scope) -> dict[dt.date, dict]:
    rows = (
        queryset.annotate(week=queries.week_of(field, scope))
        .order_by()
        .values("week")
        .annotate(**aggregates)
        .order_by("week")
    )
    return {timezone.localtime(row["week"], scope.tz).date(): row for row in rows}


def weekly_rows(scope: Scope) -> dict[str, dict[dt.date, dict]]:
    """The raw weekly aggregates per source, keyed by the local Monday of each week."""
    by_source = {
        "incidents": _by_week(
            queries.incidents(scope), "started_at", queries.incident_aggregates(repeat_breakdown=False), scope
        ),
        "changes": _by_week(queries.changes(scope), "deployed_at", queries.change_aggregates(scope.team_ids), scope),
        "postmortems": _by_week(queries.postmortems(scope), "published_at", queries.postmortem_aggregates(), scope),
        "transitions": _by_week(queries.transitions(scope), "at", queries.transition_aggregates(), scope),
    }
    carried = queries.transitions(scope, before_start=True).aggregate(**queries.wip_before_aggregates())
    wip = carried["opened"] - carried["finished"]
    for week in scope.weeks:
        row = by_source["transitions"].setdefault(week, {})
        wip += (row.get("actions_opened") or 0) - (row.get("actions_finished") or 0)
        row["wip"] = wip
    return by_source


def weekly_series(scope: Scope) -> dict:
    """Every weekly series of the scope: values, counts behind them, XmR limits and signals."""
    return build_series(weekly_rows(scope), scope.weeks, tz=scope.tz.key)


def build_series(by_source: dict[str, dict[dt.date, dict]], weeks: list[dt.date], *, tz: str) -> dict:
    """The series from the weekly rows of each source (see ``weekly_rows``)."""
    series = {}
    for key, (pole, label, unit, source, value_of) in SERIES.items():
        points = [value_of(by_source[source].get(week, {})) for week in weeks]
        values = [value for value, _count in points]
        limits = control.xmr_limits(values)
        series[key] = {
            "key": key,
            "pole": pole,
            "label": str(label),
            "unit": unit,
            "values": values,
            "counts": [count for _value, count in points],
            "limits": limits,
            "signals": [
                {"metric": key, "label": str(label), "week": weeks[-1].isoformat(), **signal}
                for signal in control.signals(values, limits)
            ],
        }
    return {"timezone": tz, "weeks": weeks, "series": series}
