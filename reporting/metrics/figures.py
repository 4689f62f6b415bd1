"""Figures over a whole period (the dashboard's headline numbers): each median comes with its p90 and count."""

import datetime as dt

from django.db import router
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from incidents.measures.scope import Scope
from incidents.models import Incident, Severity
from reporting.metrics import queries
from reporting.metrics.dora import dora_bands
from teams.models import Service


def _ratio(numerator, denominator):
    return numerator / denominator if denominator else None


def _distribution(row: dict, prefix: str) -> dict:
    return {"median": row[f"{prefix}_p50"], "p90": row[f"{prefix}_p90"], "count": row[f"{prefix}_n"]}


def _share(numerator: int, denominator: int) -> dict:
    return {"value": _ratio(numerator, denominator), "count": numerator, "of": denominator}


def mtbf_by_service(scope: Scope) -> list[dict]:
    """Mean time between failures per service: hours in the period / incidents started in it (None without one)."""
    hours = scope.duration.total_seconds() / 3600
    # Counted over incidents: read where the incidents are read (the replica when the page reads from one).
    services = Service.objects.using(router.db_for_read(Incident)).filter(team_id__in=scope.team_ids)
    if scope.service_id is not None:
        services = services.filter(pk=scope.service_id)
    # A count per service through the (service, started_at) index: a join read every incident of the table.
    started = (
        Incident.objects.filter(service_id=OuterRef("pk"), started_at__gte=scope.start, started_at__lt=scope.end)
        .order_by()
        .values("service_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    rows = (
        services.annotate(failures=Coalesce(Subquery(started), 0))
        .order_by("team_id", "name", "id")
        .values("id", "name", "team_id", "failures")
    )
    return [
        {
            "service": row["id"],
            "name": row["name"],
            "team": row["team_id"],
            "incidents": row["failures"],
            "mtbf_hours": hours / row["failures"] if row["failures"] else None,
        }
        for row in rows
    ]


def period_figures(scope: Scope, *, now: dt.datetime | None = None) -> dict:
    """Reliability, speed, flexibility and improvement health over the scope's whole range, with DORA bands."""
    now = now or timezone.now()
    rows = {source: queryset.aggregate(**aggregates) for source, (queryset, aggregates) in sources(scope, now).items()}
    return assemble(scope, rows, mtbf_by_service(scope), repeat_factor=queries.repeat_factor_count(scope))


def sources(scope: Scope, now: dt.datetime) -> dict:
    """Each source's queryset and its aggregates: aggregated once for a scope, or grouped by team."""
    today = timezone.localtime(now, scope.tz).date()
    return {
        "inc": (queries.incidents(scope), queries.incident_aggregates()),
        "chg": (queries.changes(scope), queries.change_aggregates(scope.team_ids)),
        "pm": (queries.postmortems(scope), queries.postmortem_aggregates()),
        "flow": (queries.transitions(scope), queries.transition_aggregates()),
        "carried": (queries.transitions(scope, before_start=True), queries.wip_before_aggregates()),
        "act": (queries.actions(scope), queries.action_aggregates(scope, now=now, today=today)),
    }


def assemble(scope: Scope, rows: dict, mtbf: list[dict], *, repeat_factor: int) -> dict:
    """The figures from each source's aggregate row (see ``sources``), the MTBF rows and the factor repeats."""
    weeks = len(scope.weeks)
    days = scope.duration.total_seconds() / 86400
    inc, chg, pm, flow, carried, act = (rows[key] for key in ("inc", "chg", "pm", "flow", "carried", "act"))
    deployments = chg["deployments"]
    lead_time = _distribution(chg, "lead_time")
    cfr = _share(chg["failed_deployments"], deployments)
    return {
        "range": {"from": scope.first_day, "to": scope.last_day, "weeks": weeks, "timezone": scope.tz.key},
        "reliability": {
            "incidents": inc["incidents"],
            "incidents_by_severity": {sev: inc[f"incidents_{sev.lower()}"] for sev in Severity.values},
            "unresolved_incidents": inc["unresolved"],
            **{name: _distribution(inc, name) for name, _later, _earlier in queries.INCIDENT_DURATIONS},
            "change_failure_rate": cfr,
            # Headline: an incident whose problem already had one within N days (a recurring cause).
            "repeat_incident_rate": {
                **_share(inc["repeat_problem"], inc["incidents"]),
                "window_days": queries.repeat_window_days(),
                "by_problem": inc["repeat_problem"],
                "by_service": inc["repeat_service"],
                "by_factor_category": repeat_factor,
            },
            # Secondary, under its own name: any incident on a service that had one within N days.
            "same_service_repeat_rate": {
                **_share(inc["repeat_service"], inc["incidents"]),
                "window_days": queries.repeat_window_days(),
            },
            "failed_change_restore": _distribution(inc, "failed_change_restore"),
            "mtbf": mtbf,
        },
        "speed": {
            "deployment_frequency": {
                "count": deployments,
                "per_week": deployments / weeks,
                "per_day": deployments / days,
            },
            "lead_time": lead_time,
            "time_to_postmortem": _distribution(pm, "time_to_postmortem"),
            "improvement_cycle_time": _distribution(flow, "cycle_time"),
        },
        "flexibility": {
            "standard_change_share": _share(chg["standard_changes"], deployments),
            "emergency_change_rate": _share(chg["emergency_changes"], deployments),
            "lead_time_spread": {
                "value": _ratio(lead_time["p90"], lead_time["median"]),
                "count": lead_time["count"],
            },
            "improvement_wip": (
                carried["opened"] - carried["finished"] + flow["actions_opened"] - flow["actions_finished"]
            ),
            "improvement_throughput": {"count": flow["actions_done"], "per_week": flow["actions_done"] / weeks},
            "open_action_age": _distribution(act, "open_action_age"),
        },
        "health": {
            "measured_share": _share(act["measured"], act["reached_check"]),
            "effective_share": _share(act["verified_effective"], act["reached_check"]),
            "overridden_share": _share(act["overridden"], act["reached_check"]),
            "self_reported_share": _share(act["self_reported"], act["reached_check"]),
            "open_actions": act["open_actions"],
            "overdue_actions": act["overdue_actions"],
        },
        "dora": dora_bands(
            deployments_per_day=deployments / days if deployments else None,
            lead_time_median=lead_time["median"],
            change_failure_rate=cfr["value"],
            time_to_restore_median=inc["failed_change_restore_p50"],
        ),
    }
