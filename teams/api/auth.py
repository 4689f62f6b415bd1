"""API token authentication and the role rules of the API."""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from teams.models import ApiToken, Membership
from teams.selectors import has_role
from teams.services import authenticate_api_key


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer okz_…`: request.user is the token's creator, request.auth the ApiToken."""

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
        return (token.created_by or AnonymousUser(), token)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A team API token (`okz_…`), created by a team lead; read or read-write.",
        }


def token_of(request) -> ApiToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiToken) else None


def may(request, team, role: str) -> bool:
    """True when the caller holds at least `role` in `team`.

    A token acts only in its own team; a read token never writes; a write token
    writes as a member, and as a lead only when its creator is a lead of the team.
    """
    token = token_of(request)
    if token is not None:
        if team.pk != token.team_id:
            return False
        if role == Membership.Role.VIEWER:
            return True
        if not token.can_write:
            return False
        if role == Membership.Role.MEMBER:
            return True
        return token.created_by is not None and has_role(token.created_by, team, role)
    return has_role(request.user, team, role)


class IsTeamCaller(permissions.BasePermission):
    """Authenticated by session or token; writes need a read-write token (roles are checked per team)."""

    message = _("Authenticate with a session or an API token.")

    def has_permission(self, request, view):
        token = token_of(request)
        if token is not None:
            if request.method not in permissions.SAFE_METHODS and not token.can_write:
                self.message = _("This token is read-only.")
                return False
            return True
        return bool(request.user and request.user.is_authenticated)


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """Per-token (or per-user for sessions) request rate; API_THROTTLE_RATE in settings."""

    scope = "api"

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
        return super().allow_request(request, view)
