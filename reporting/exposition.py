"""The teams' key figures for /metrics (config/prometheus.py): the dashboard's own figures, cached.

Computed with ``figures_by_team`` (grouped queries: their number grows with the time zones in use,
never with the teams), over each team's default dashboard period, so a gauge equals the dashboard's
figure. The result is cached for METRICS_CACHE_SECONDS: Prometheus scrapes every 15 s, and the
figures move by the week.
"""

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from reporting import metrics
from reporting.metrics.by_team import figures_by_team
from teams.models import Team

CACHE_KEY = "opskaizen:metrics:team-figures"


def compute_team_figures(*, now: dt.datetime | None = None) -> list[dict]:
    """One dict per team: slug, time to restore p90 (seconds), change failure rate, open actions, incidents."""
    now = now or timezone.now()
    by_zone = defaultdict(list)
    for team in Team.objects.order_by("slug").only("pk", "slug", "timezone"):
        by_zone[team.timezone].append(team)
    found = []
    for teams in by_zone.values():
        figures = figures_by_team(metrics.build_scope(teams=teams, now=now), now=now)
        for team in teams:
            one = figures[team.pk]
            found.append(
                {
                    "team": team.slug,
                    "time_to_restore_p90": one["reliability"]["time_to_mitigate"]["p90"],
                    "change_failure_rate": one["reliability"]["change_failure_rate"]["value"],
                    "open_actions": one["health"]["open_actions"],
                    "incidents": one["reliability"]["incidents"],
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
