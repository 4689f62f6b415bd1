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
