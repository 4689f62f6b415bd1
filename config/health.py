"""Health checks a load balancer, a supervisor or a monitor can use (docs/operations.md).

``GET /healthz/`` answers 200 when the database answers, 503 when it does not: that is all a load
balancer should look at (a stuck worker is no reason to take the web out of rotation). The JSON
also shows what a monitor needs to see a stuck queue:

- ``inbox``: how many incoming webhook deliveries are queued (accepted, not applied yet) and how
  long the oldest has waited. With workers running it stays near zero; a growing age means the
  drain is not running (no worker, no beat, or the broker is down).
- ``tick``: when ``improvement.tick`` last succeeded on a worker. Beat sends it every minute, so an
  age under ~2 minutes proves beat, the broker and at least one worker alive together. Each
  successful tick writes the time into the cache's Redis (a key, no table); without a shared
  cache (the quickstart's local-memory cache) it stays unknown.

A monitor may ask for thresholds, and gets a 503 when one is exceeded:
``/healthz/?max_inbox_age=300&max_tick_age=180`` (seconds).
"""

import datetime as dt
import functools
import logging
import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core import outage_log

logger = logging.getLogger("opskaizen.health")

TICK_TASK = "improvement.tick"
TICK_KEY = "opskaizen:heartbeat:improvement.tick"
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
THRESHOLDS = ("max_inbox_age", "max_tick_age")


@functools.cache
def _redis(location: str):
    import redis

    # Short timeouts: a health check must answer quickly even when the cache's host does not.
    return redis.Redis.from_url(location, socket_connect_timeout=1, socket_timeout=1)


def _cache_redis():
    config = settings.CACHES["default"]
    return _redis(config["LOCATION"]) if config["BACKEND"] == REDIS_CACHE else None


def record_tick(sender=None, **kwargs) -> None:
    """Celery's task_success handler (connected in config/celery.py): the tick ran, note when."""
    if getattr(sender, "name", None) != TICK_TASK:
        return
    now = time.time()
    try:
        client = _cache_redis()
        if client is not None:
            client.set(TICK_KEY, repr(now))
        else:
            from django.core.cache import cache

            cache.set(TICK_KEY, now, timeout=None)
    except Exception as exc:  # the heartbeat is informative: never fail or log a traceback for it
        logger.info("tick heartbeat not recorded: %s", exc)


def last_tick() -> float | None:
    """The Unix time of the last successful tick, None if unknown; raises when the cache does not answer."""
    client = _cache_redis()
    if client is None:
        from django.core.cache import cache

        return cache.get(TICK_KEY)
    value = client.get(TICK_KEY)
    return float(value) if value is not None else None


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()


def inbox() -> dict:
    from django.db.models import Count, Min

    from integrations.models import WebhookDelivery

    row = WebhookDelivery.objects.filter(outcome=WebhookDelivery.Outcome.QUEUED).aggregate(
        queued=Count("id"), oldest=Min("received_at")
    )
    oldest = row["oldest"]
    age = None if oldest is None else max(0.0, round(time.time() - oldest.timestamp(), 1))
    return {
        "queued": row["queued"],
        "oldest_queued_at": oldest and oldest.isoformat(),
        "oldest_queued_age_seconds": age,
    }


def tick() -> dict:
    try:
        last = last_tick()
    except Exception as exc:
        return {"last_success_at": None, "age_seconds": None, "error": f"cache unavailable: {exc}"[:200]}
    age = None if last is None else max(0.0, round(time.time() - last, 1))
    return {"last_success_at": _iso(last), "age_seconds": age}


def _unlogged(response):
    """A 503 this view means: no ERROR line from django.request for each probe (the state change is logged)."""
    response._has_been_logged = True
    return response


@never_cache
@require_GET
def healthz(request):
    """200 when the database answers (load balancers look at this only), else 503; details in the JSON."""
    try:
        limits = {name: float(request.GET[name]) for name in THRESHOLDS if name in request.GET}
    except ValueError:
        return JsonResponse({"code": "invalid", "message": "thresholds are numbers of seconds"}, status=400)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        outage_log.database.failed(logger, "health check: database unavailable: %s", exc)
        return _unlogged(JsonResponse({"status": "unavailable", "database": "down"}, status=503))
    outage_log.database.answered(logger)
    try:
        queue = inbox()
    except Exception as exc:  # e.g. a database not migrated yet: the database itself answers
        queue = {"queued": None, "oldest_queued_at": None, "oldest_queued_age_seconds": None, "error": str(exc)[:200]}
    heartbeat = tick()
    body = {"status": "ok", "database": "up", "inbox": queue, "tick": heartbeat}
    failing = []
    if "max_inbox_age" in limits and (queue["oldest_queued_age_seconds"] or 0) > limits["max_inbox_age"]:
        failing.append("inbox")
    tick_age = heartbeat["age_seconds"]
    if "max_tick_age" in limits and (tick_age is None or tick_age > limits["max_tick_age"]):
        failing.append("tick")
    if failing:
        body.update(status="degraded", failing=failing)
        return _unlogged(JsonResponse(body, status=503))
    return JsonResponse(body)
