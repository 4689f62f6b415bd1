"""Fixtures of the fault tests: a throwaway Redis the test may stop, and real Celery workers on it."""

import pytest
from django.conf import settings

from core.cache import REDIS_CACHE
from tests.faults.support import ThrowawayRedis, celery_broker
from tests.rituals.test_ritual_worker import Worker


@pytest.fixture
def broker(tmp_path):
    """The throwaway Redis, serving as this process's Celery broker; always killed at the end."""
    server = ThrowawayRedis(tmp_path / "redis.log")
    server.start()
    try:
        with celery_broker(server.url):
            yield server
    finally:
        server.stop()


@pytest.fixture
def one_redis(broker, settings):
    """The throwaway Redis is the cache too, as with production's single REDIS_URL: one outage stops both."""
    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": broker.url}}
    return broker


@pytest.fixture
def workers(tmp_path, broker):
    """Start real `celery worker`s on the throwaway broker, sharing this process's cache; all killed at the end."""
    started: list[Worker] = []

    def start(name: str, **env) -> Worker:
        cache = settings.CACHES["default"]
        redis_url = cache["LOCATION"] if cache["BACKEND"] == REDIS_CACHE else settings.REDIS_URL
        # The outbox tests' receiver listens on 127.0.0.1: workers opt in to private networks through
        # their environment, as a deployment would (the SSRF guard refuses them by default).
        env.setdefault("OUTGOING_ALLOW_PRIVATE_NETWORKS", "true")
        worker = Worker(tmp_path, name, CELERY_BROKER_URL=broker.url, REDIS_URL=redis_url, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
