"""API token authentication and the role rules of the API."""

import functools
import logging
import time

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from core import audit, outage_log
from core.cache import redis_client
from teams.models import ApiToken, Membership
from teams.selectors import has_role
from teams.services import authenticate_api_key
from teams.sign_in_audit import record_revoked_token_use

logger = logging.getLogger(__name__)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer okz_…`: request.auth is the ApiToken, request.user its holder.

    A personal token's holder is its creator; a service token belongs to the team and has
    no person behind it (an anonymous user: what it writes is authored by nobody).
    """

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header: use “Bearer <token>”."))
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        token = authenticate_api_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        if not token.is_active:
            record_revoked_token_use(token=token, request=request)
            raise exceptions.AuthenticationFailed(_("This token was revoked."), code="token_revoked")
        if token.acting_role is None:
            raise exceptions.AuthenticationFailed(
                _("This token's holder is no longer a member of its team; a lead can create a service token."),
                code="token_holder_not_member",
            )
        if token.is_service or token.created_by is None:
            return (AnonymousUser(), token)
        audit.record_actor(token.created_by)  # what the token writes is in the audit log under its holder
        return (token.created_by, token)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A team API token (`okz_…`), created by a team lead; read or read-write. A personal token "
                "acts with at most its holder's current role; a service token belongs to the team."
            ),
        }


def token_of(request) -> ApiToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiToken) else None


def may(request, team, role: str) -> bool:
    """True when the caller holds at least `role` in `team`.

    A token acts only in its own team and with its acting role: a read token never writes;
    a personal write token acts with its holder's current role; a service token as a member.
    """
    token = token_of(request)
    if token is not None:
        if team.pk != token.team_id:
            return False
        acting = getattr(token, "acting_role", None)
        return acting is not None and Membership.RANK[acting] >= Membership.RANK[role]
    return has_role(request.user, team, role)


class IsTeamCaller(permissions.BasePermission):
    """Authenticated by session or token; writes need a read-write token (roles are checked per team)."""

    message = _("Authenticate with a session or an API token.")

    def has_permission(self, request, view):
        token = token_of(request)
        if token is not None:
            if request.method in permissions.SAFE_METHODS:
                return True
            if not token.can_write:
                self.message = _("This token is read-only.")
                return False
            acting = getattr(token, "acting_role", None)
            if acting is None or Membership.RANK[acting] < Membership.RANK[Membership.Role.MEMBER]:
                self.message = _("This token is %(reason)s.") % {"reason": token.cap_reason(token.holder_role)}
                return False
            return True
        return bool(request.user and request.user.is_authenticated)


# One atomic round trip per request: read this window's and the previous window's counts,
# refuse when the weighted sum has reached the limit, else count this request.
SLIDING_WINDOW_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[1]) + current >= tonumber(ARGV[2]) then
  return 0
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


@functools.cache
def _sliding_window_script(client):
    return client.register_script(SLIDING_WINDOW_LUA)


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """Per-token (or per-user for sessions) request rate; API_THROTTLE_RATE in settings.

    A sliding-window counter: one integer per caller and window, and the previous
    window's count weighted by how much of it still overlaps the last `duration`
    seconds. Only allowed requests are counted, as in DRF. With Redis as the cache it is
    one Lua script (one round trip, atomic); otherwise the cache API.

    DRF's own throttle keeps a list of every request time in the window and rewrites it
    on each request (a 10 KB value at 1,200/minute), and Django's Redis cache builds a new
    client per call; the ingest benchmark (bench/ingest_bench.py) measured both.
    If Redis does not answer, the request is let through and logged: a rate limit must not
    take the API down with it.
    """

    scope = "api"
    timer = time.time

    def get_rate(self):
        return getattr(settings, "API_THROTTLE_RATE", None)

    def get_cache_key(self, request, view):
        token = token_of(request)
        if token is not None:
            ident = f"token:{token.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return f"throttle_{self.scope}_{ident}"

    def allow_request(self, request, view):
        # Read the rate on every request so that settings overrides (tests) take effect.
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window, into = divmod(self.now, self.duration)
        keys = (f"{self.key}:{int(window)}", f"{self.key}:{int(window) - 1}")
        overlap = 1 - into / self.duration
        try:
            allowed = self._count(keys, overlap)
        except Exception as exc:  # any cache failure: fail open, logged once per outage (core/outage_log.py)
            outage_log.cache.failed(logger, "API throttle unavailable (cache error); request let through: %s", exc)
            return True
        outage_log.cache.answered(logger)
        return True if allowed else self.throttle_failure()

    def _count(self, keys: tuple[str, str], overlap: float) -> bool:
        ttl = 2 * self.duration + 1
        client = redis_client()
        if client is not None:
            script = _sliding_window_script(client)
            return bool(script(keys=[f"opskaizen:{key}" for key in keys], args=[overlap, self.num_requests, ttl]))
        current_key, previous_key = keys
        counts = self.cache.get_many(keys)
        if counts.get(previous_key, 0) * overlap + counts.get(current_key, 0) >= self.num_requests:
            return False
        if not self.cache.add(current_key, 1, timeout=ttl):
            try:
                self.cache.incr(current_key)
            except ValueError:  # expired between add and incr
                self.cache.add(current_key, 1, timeout=ttl)
        return True

    def wait(self):
        """Seconds until the current window ends (Retry-After)."""
        return max(1.0, self.duration - self.now % self.duration)
