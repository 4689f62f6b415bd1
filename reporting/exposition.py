"""The teams' key figures for /metrics (config/prometheus.py): the dashboard's own figures, cached.

Computed with the dashboard's own querysets and aggregates, grouped by team (their number grows
with the time zones in use, never with the teams), over each team's default dashboard period, so a
gauge equals the dashboard's figure. The result is cached for METRICS_CACHE_SECONDS: Prometheus
scrapes every 15 s, and the figures move by the week.
"""

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Q
from django.utils import timezone

from improvement.models import OPEN_STAGES
from incidents.measures.db import Seconds
from incidents.measures.queries import failed_change
from reporting import metrics
from reporting.metrics import queries
from teams.models import Team

CACHE_KEY = "opskaizen:metrics:team-figures"


def _grouped(queryset, **aggregates) -> dict[int, dict]:
    return {row["team_id"]: row for row in queryset.order_by().values("team_id").annotate(**aggregates)}


def compute_team_figures(*, now: dt.datetime | None = None) -> list[dict]:
    """One dict per team: slug, time to restore p90 (seconds), change failure rate, open actions, incidents.

    Only the four figures, each with the aggregate the dashboard uses (reporting.metrics.queries):
    three grouped queries per time zone in use, whatever the number of teams.
    """
    now = now or timezone.now()
    by_zone = defaultdict(list)
    for team in Team.objects.order_by("slug").only("pk", "slug", "timezone"):
        by_zone[team.timezone].append(team)
    durations = {name: (later, earlier) for name, later, earlier in queries.INCIDENT_DURATIONS}
    later, earlier = durations["time_to_mitigate"]
    found = []
    for teams in by_zone.values():
        scope = metrics.build_scope(teams=teams, now=now)
        incidents = _grouped(
            queries.incidents(scope),
            incidents=Count("id"),
            **queries.percentiles("ttr", Seconds(F(later), F(earlier)), later),
        )
        changes = _grouped(
            queries.changes(scope), deployments=Count("id"), failed=Count("id", filter=failed_change(scope.team_ids))
        )
        actions = _grouped(queries.actions(scope), open_actions=Count("id", filter=Q(stage__in=OPEN_STAGES)))
        for team in teams:
            inc, chg = incidents.get(team.pk, {}), changes.get(team.pk, {})
            found.append(
                {
                    "team": team.slug,
                    "time_to_restore_p90": inc.get("ttr_p90"),
                    "change_failure_rate": chg["failed"] / chg["deployments"] if chg.get("deployments") else None,
                    "open_actions": actions.get(team.pk, {}).get("open_actions", 0),
                    "incidents": inc.get("incidents", 0),
                }
            )
    return sorted(found, key=lambda row: row["team"])


def team_figures() -> list[dict]:
    """compute_team_figures, from the cache when it is fresher than METRICS_CACHE_SECONDS."""
    found = cache.get(CACHE_KEY)
    if found is None:
        found = compute_team_figures()
        cache.set(CACHE_KEY, found, timeout=settings.METRICS_CACHE_SECONDS)
    return found
