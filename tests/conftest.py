"""Shared fixtures, and the rule that tests needing PostgreSQL or Redis never skip silently in CI.

Tests marked `postgres`, `redis`, `alertmanager` or `prometheus` run when the service is configured
(DATABASE_URL on PostgreSQL, REDIS_URL reachable, Debian's prometheus-alertmanager or prometheus
installed). Without it they skip on a developer's laptop, but with OPSKAIZEN_REQUIRE_SERVICES=1
(the PostgreSQL + Redis leg of .ci/run) a missing service is a failure, never a skip.
"""

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation
from rest_framework.test import APIClient

from teams.services import create_api_token
from tests import factories

REQUIRE_SERVICES = os.environ.get("OPSKAIZEN_REQUIRE_SERVICES") == "1"
# The real Alertmanager the `alertmanager` tests run (Debian's package, installed by .ci/run).
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
# The real Prometheus the `prometheus` tests run against a live server (Debian's package, installed by .ci/run).
PROMETHEUS = "/usr/bin/prometheus"


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
    if item.get_closest_marker("alertmanager") and not os.access(ALERTMANAGER, os.X_OK):
        missing.append(f"{ALERTMANAGER} is not installed (apt-get install prometheus-alertmanager)")
    if item.get_closest_marker("prometheus") and not os.access(PROMETHEUS, os.X_OK):
        missing.append(f"{PROMETHEUS} is not installed (apt-get install prometheus)")
    if missing:
        message = "; ".join(missing)
        if REQUIRE_SERVICES:
            pytest.fail(f"required service missing (OPSKAIZEN_REQUIRE_SERVICES=1): {message}", pytrace=False)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _default_language_after_each_test():
    """LocaleMiddleware activates a request's language and never deactivates it: a French request would
    leave French active in the thread, and the next test that formats a string without a request
    (a template helper, a service message) would read French."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _reads_on_the_primary_unless_the_test_is_about_the_replica(request):
    """With DATABASE_REPLICA_URL set (CI's PostgreSQL leg), only tests marked `replica_reads` route reads
    to the replica: the others declare only the default database to pytest-django."""
    if request.node.get_closest_marker("replica_reads"):
        yield
        return
    configured = settings.READ_REPLICA
    settings.READ_REPLICA = ""
    yield
    settings.READ_REPLICA = configured


@pytest.fixture(autouse=True)
def _dependencies_up_before_each_test():
    """core/outage_log.py remembers per process that Redis is down: each test starts with it up."""
    from core import outage_log

    for dependency in (outage_log.broker, outage_log.cache, outage_log.database):
        dependency.reset()


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


# --- Browser tests ------------------------------------------------------------
# Tests marked `browser` drive Debian's Chromium through Playwright (never a
# downloaded browser). Without /usr/bin/chromium they skip on a laptop, and fail
# when OPSKAIZEN_REQUIRE_BROWSER=1 (the second leg of .ci/run).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE_BROWSER = os.environ.get("OPSKAIZEN_REQUIRE_BROWSER") == "1"


def _browser_missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (requirements-dev.txt)"
    return None


@pytest.fixture(autouse=True)
def _browser_required(request):
    if request.node.get_closest_marker("browser"):
        reason = _browser_missing()
        if reason:
            if REQUIRE_BROWSER:
                pytest.fail(f"browser missing (OPSKAIZEN_REQUIRE_BROWSER=1): {reason}", pytrace=False)
            pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module (Debian's binary, launched by Playwright).

    Playwright's sync API keeps an event loop in this thread while it runs, which
    Django would take for async code: its check is lifted only meanwhile.
    """
    reason = _browser_missing()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(f"browser missing (OPSKAIZEN_REQUIRE_BROWSER=1): {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# --- rituals ------------------------------------------------------------------------------


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


# --- outgoing requests (teams/egress.py) ------------------------------------------------------
# URLs are resolved when saved: the example domains (RFC 2606) that tests use as webhook URLs
# resolve here to a public address, without a DNS server. Nothing is ever sent to them.
EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net")
EXAMPLE_ADDRESS = "93.184.215.14"


@pytest.fixture(autouse=True)
def _example_domains_resolve(monkeypatch):
    import socket

    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        name = str(host).lower().rstrip(".")
        if any(name == domain or name.endswith("." + domain) for domain in EXAMPLE_DOMAINS):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (EXAMPLE_ADDRESS, port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def allow_private_networks(settings):
    """Opt in to sending to 127.0.0.1, for tests that run a local receiver (production default: refused)."""
    settings.OUTGOING_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Factories hash a password per user; the default hasher costs ~0.3 s each on a shared 2-core machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fresh_throttle_cache():
    """An empty cache around the test: throttle counters and drain nudges start from zero (API and hook tests)."""
    cache.clear()
    yield
    cache.clear()


def client_for(key: str | None = None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def make_client():
    """make_client(team, scope="read_write", by=lead user) → (APIClient with a token, token)."""

    def make(team, scope="read_write", by=None):
        by = by or factories.MembershipFactory(team=team, role="lead").user
        token, key = create_api_token(team=team, name="test", scope=scope, by=by)
        return client_for(key), token

    return make
