"""A direct Redis client on the cache's Redis, for the hot paths that need one round trip.

Django's RedisCache builds a new redis-py client for every call (the ingest benchmark
measured it as a sizeable share of a request); the throttle and the webhook drain nudge
use this shared client, with its own connection pool, instead.
"""

import functools

from django.conf import settings

REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


def redis_client():
    """The redis-py client of the default cache's server, or None when the cache is not Redis."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != REDIS_CACHE:
        return None
    return _client(config["LOCATION"])


@functools.cache
def _client(location: str):
    import redis

    return redis.Redis.from_url(location, socket_connect_timeout=2, socket_timeout=2)


# --- Copies of a computation, shown while recent ---------------------------------------------
# The review board's metric signals and the default dashboard are computed at most once a tick and
# kept in the cache. Their age is judged by when they were computed (the entry carries it), not by
# the cache's expiry, which Redis counts on its own clock; a cache that does not answer means
# computing again, never an error.


def team_key(kind: str, team) -> str:
    """A cache key of `team`'s: the database's name and the team's creation time are in it, so
    neither deployments sharing one Redis nor a team whose id was used before share an entry."""
    from django.db import connection

    return f"{kind}:{connection.settings_dict['NAME']}:{team.pk}:{team.created_at.timestamp()}"


def recent_copy(key: str, now, max_age_seconds: float):
    """The value kept under `key` if it was computed at most `max_age_seconds` before `now`, else None."""
    import datetime as dt

    from django.core.cache import cache

    try:
        entry = cache.get(key)
    except Exception:  # the cache not answering: compute again
        return None
    if entry is None or not dt.timedelta(0) <= now - entry["at"] <= dt.timedelta(seconds=max_age_seconds):
        return None
    return entry["value"]


def keep_copy(key: str, value, now, timeout_seconds: float) -> None:
    """Keep `value`, computed at `now`, under `key` (nothing when the cache does not answer)."""
    import logging

    from django.core.cache import cache

    try:
        cache.set(key, {"at": now, "value": value}, timeout_seconds)
    except Exception:
        logging.getLogger(__name__).warning("%s not kept: the cache does not answer", key.split(":")[0])
