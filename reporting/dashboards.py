"""The team dashboard's default view, computed ahead by beat and shown when at most one tick old.

The dashboard a team opens most has its default filters: the last 26 complete weeks, every
service. Computing it reads ~20 aggregates over the team's incidents, changes, postmortems and
actions (~100 ms of SQL at 100 000 incidents, bench/pages_bench.py). Beat's task
`reporting.refresh_dashboards` (every minute, the ritual tick's pace) computes it for each team
whose dashboard was opened in the last VIEWED_SECONDS and keeps it in the cache (CACHES); the page
shows that copy when it was computed at most FRESH_SECONDS ago, and otherwise computes it live
and keeps that (a team nobody looked at lately, no worker running, the cache not answering).
Either way it shows the live computation, `reporting.metrics.dashboard`, of at most one tick ago.
A filtered dashboard (another period, one service) is always computed live.
"""

import datetime as dt
import logging

from django.core.cache import cache
from django.utils import timezone

from core.cache import keep_copy, recent_copy, team_key
from reporting import metrics
from teams.models import Team

logger = logging.getLogger(__name__)

FRESH_SECONDS = 60  # one tick: a copy older than this is not shown
KEEP_SECONDS = 180  # how long the cache holds a copy (a missed tick or two)
VIEWED_SECONDS = 3600  # a team whose dashboard was opened within this is refreshed by beat


def _key(kind: str, team) -> str:
    return team_key(f"dashboard-{kind}", team)


def compute(team, now: dt.datetime) -> dict:
    """The default dashboard, live."""
    return metrics.dashboard(metrics.build_scope(teams=team, now=now), now=now)


def default_board(team, now: dt.datetime) -> dict:
    """The default dashboard of `team` as of at most FRESH_SECONDS before `now`; marks it viewed."""
    try:
        cache.set(_key("viewed", team), True, VIEWED_SECONDS)
    except Exception:  # the cache not answering: not refreshed ahead, computed below
        logger.warning("dashboard of team %s not marked viewed (cache unavailable)", team.pk)
    board = recent_copy(_key("board", team), now, FRESH_SECONDS)
    if board is None:
        board = compute(team, now)
        keep_copy(_key("board", team), board, now, KEEP_SECONDS)
    return board


def refresh(now: dt.datetime | None = None) -> int:
    """Compute the default dashboard of every team viewed in the last VIEWED_SECONDS; returns how many."""
    now = now or timezone.now()
    teams = list(Team.objects.all())
    try:
        viewed = cache.get_many([_key("viewed", team) for team in teams])
    except Exception:
        logger.warning("dashboards not refreshed: cache unavailable")
        return 0
    refreshed = 0
    for team in teams:
        if _key("viewed", team) in viewed:
            keep_copy(_key("board", team), compute(team, now), now, KEEP_SECONDS)
            refreshed += 1
    return refreshed
