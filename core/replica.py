"""Read-heavy pages and reports read from a replica; every write, and whoever just wrote, uses the primary.

Opt-in per view: `@replica_reads` (below `team_view`, so access is decided on the primary) or
`ReplicaReadsMixin` for an API view (after authentication, so a revoked token is never read from
a lagging copy). Inside such a view, reads go to `settings.READ_REPLICA` until the request writes
anything; from then on it reads its own writes from the primary. A browser that has just written
(any unsafe request) carries a short-lived cookie, so the page it is redirected to reads from the
primary too, for `READ_REPLICA_PIN_SECONDS` (longer than the replica's lag). Sessions, users,
teams, memberships, tokens and the login throttle always use the primary. Without a replica configured, nothing here
does anything.
"""

import contextvars
from contextlib import contextmanager
from functools import wraps

from django.conf import settings

PIN_COOKIE = "okz_primary"
# Always on the primary: who is signed in, their teams and what they may do.
PRIMARY_ONLY_APPS = {"auth", "sessions", "axes", "contenttypes", "admin", "auditlog", "teams"}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

_reading = contextvars.ContextVar("opskaizen_replica_reads", default=None)


def _replica_for(request) -> str:
    alias = getattr(settings, "READ_REPLICA", "")
    if not alias or request.method not in SAFE_METHODS or request.COOKIES.get(PIN_COOKIE):
        return ""
    return alias


@contextmanager
def reading_from_replica(request):
    """Route this block's reads to the replica (when there is one and this request may use it)."""
    alias = _replica_for(request)
    token = _reading.set({"alias": alias, "wrote": False} if alias else None)
    try:
        yield
    finally:
        _reading.reset(token)


def replica_reads(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        with reading_from_replica(request):
            return view(request, *args, **kwargs)

    return wrapper


class ReplicaReadsMixin:
    """For DRF views: reads after authentication, permissions and throttling go to the replica."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._replica = reading_from_replica(request)
        self._replica.__enter__()

    def finalize_response(self, request, response, *args, **kwargs):
        replica = getattr(self, "_replica", None)
        if replica is not None:
            self._replica = None
            replica.__exit__(None, None, None)
        return super().finalize_response(request, response, *args, **kwargs)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        state = _reading.get()
        if state is None or state["wrote"] or model._meta.app_label in PRIMARY_ONLY_APPS:
            return "default"
        return state["alias"]

    def db_for_write(self, model, **hints):
        state = _reading.get()
        if state is not None:
            state["wrote"] = True  # read your own writes: the rest of this request reads the primary
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica is a copy of the primary: the same rows

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"  # the replica receives the primary's schema by replication


class ReplicaPinMiddleware:
    """After an unsafe request, the browser reads from the primary for a few seconds (the redirect after a POST)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(settings, "READ_REPLICA", "") and request.method not in SAFE_METHODS:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=settings.READ_REPLICA_PIN_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response
