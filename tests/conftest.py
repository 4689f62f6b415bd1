"""Shared fixtures, and the rule that tests needing PostgreSQL or Redis never skip silently in CI.

Tests marked `postgres` or `redis` run when the service is configured
(DATABASE_URL on PostgreSQL, REDIS_URL reachable). Without it they skip on a
developer's laptop, but with OPSKAIZEN_REQUIRE_SERVICES=1 (the PostgreSQL +
Redis leg of .ci/run) a missing service is a failure, never a skip.
"""

import os

import pytest
from django.conf import settings

from tests import factories

REQUIRE_SERVICES = os.environ.get("OPSKAIZEN_REQUIRE_SERVICES") == "1"


def _on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def _redis_reachable() -> str | None:
    """None when Redis answers at REDIS_URL, else why not."""
    url = settings.REDIS_URL
    if not url:
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} does not answer: {exc}"
    return None


def pytest_runtest_setup(item):
    missing = []
    if item.get_closest_marker("postgres") and not _on_postgres():
        missing.append("DATABASE_URL does not point at PostgreSQL")
    if item.get_closest_marker("redis"):
        reason = _redis_reachable()
        if reason:
            missing.append(reason)
    if missing:
        message = "; ".join(missing)
        if REQUIRE_SERVICES:
            pytest.fail(f"required service missing (OPSKAIZEN_REQUIRE_SERVICES=1): {message}", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def team(db):
    return factories.TeamFactory()


@pytest.fixture
def other_team(db):
    return factories.TeamFactory()


@pytest.fixture
def lead(team):
    return factories.MembershipFactory(team=team, role="lead").user


@pytest.fixture
def member(team):
    return factories.MembershipFactory(team=team, role="member").user


@pytest.fixture
def viewer(team):
    return factories.MembershipFactory(team=team, role="viewer").user


# --- rituals (issue 5) ---------------------------------------------------------------------


@pytest.fixture
def celery_eager(settings):
    """Run Celery tasks in-process (the app's conf is read once, so set it there too)."""
    from config.celery import app

    # Read (and so load) the app's conf before touching settings: loaded afterwards, it would
    # remember the override as its default and leave every later test eager.
    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = old
