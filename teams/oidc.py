"""Single sign-on through OpenID Connect (mozilla-django-oidc), and the claim that maps to teams and roles.

The provider owns the memberships its claim names (`Membership.Source.PROVIDER`); they are
re-read at every sign-in and at each silent session refresh (SessionRefresh middleware), so a
person taken out of a group loses the team, and their personal tokens of it, within
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS. A person is found by the provider's (issuer, subject),
never by e-mail: an address is not an identity, and matching on it would hand a local
account to whoever the provider lets claim that address.
"""

import logging
import re

import jwt
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.middleware import SessionRefresh as LibrarySessionRefresh
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from teams.models import ExternalIdentity, Membership
from teams.services import sync_provider_memberships
from teams.sign_in_audit import record_sign_in

logger = logging.getLogger(__name__)

# Clock skew tolerated between the provider and us when checking exp, iat and nbf.
LEEWAY_SECONDS = 60


class SignInRefused(SuspiciousOperation):
    """The provider's answer is not one we accept; the message says why, for the person and the log."""


def wanted_memberships(claims: dict) -> dict[str, str]:
    """{team slug: role} from the configured claim: OIDC_TEAM_ROLE_MAP first, else OIDC_TEAM_ROLE_PATTERN.

    A value naming a team twice keeps the highest role.
    """
    values = claims.get(settings.OIDC_TEAMS_CLAIM) or []
    if isinstance(values, str):
        values = [values]
    pattern = re.compile(settings.OIDC_TEAM_ROLE_PATTERN)
    wanted: dict[str, str] = {}
    for value in values:
        if not isinstance(value, str):
            continue
        mapped = settings.OIDC_TEAM_ROLE_MAP.get(value)
        if mapped:
            slug, _sep, role = mapped.partition(":")
        else:
            match = pattern.match(value)
            if not match:
                continue
            slug, role = match.group("team"), match.group("role")
        if role not in Membership.RANK:
            continue
        if slug not in wanted or Membership.RANK[role] > Membership.RANK[wanted[slug]]:
            wanted[slug] = role
    return wanted


class ProviderBackend(OIDCAuthenticationBackend):
    """Verifies the ID token in full (signature, issuer, audience, expiry, nonce), then syncs the teams.

    The library leaves the audience and issuer unchecked; this backend checks both.
    """

    def __init__(self, *args, **kwargs):
        if settings.SSO_ENABLED:
            super().__init__(*args, **kwargs)

    def authenticate(self, request, **kwargs):
        if not settings.SSO_ENABLED:
            return None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        if not token:
            raise SignInRefused(_("The identity provider returned no ID token."))
        nonce = kwargs.get("nonce")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise SignInRefused(_("The ID token is malformed.")) from None
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SignInRefused(_("The ID token is signed with an algorithm we do not accept."))
        key = self.OIDC_RP_IDP_SIGN_KEY or self.retrieve_matching_jwk(token)
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.InvalidSignatureError:
            raise SignInRefused(_("The ID token's signature is not valid.")) from None
        except jwt.ExpiredSignatureError:
            raise SignInRefused(_("The ID token has expired.")) from None
        except jwt.InvalidAudienceError:
            raise SignInRefused(_("The ID token was issued for another application (wrong audience).")) from None
        except jwt.InvalidIssuerError:
            raise SignInRefused(_("The ID token comes from another issuer.")) from None
        except jwt.PyJWTError as error:
            raise SignInRefused(_("The ID token is not valid: %(error)s") % {"error": error}) from None
        if settings.OIDC_USE_NONCE and (not nonce or payload.get("nonce") != nonce):
            raise SignInRefused(_("The ID token does not belong to this sign-in (nonce mismatch: a replay?)."))
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, completed by the userinfo endpoint's (which must be about the same subject)."""
        info = super().get_userinfo(access_token, id_token, payload) if self.OIDC_OP_USER_ENDPOINT else {}
        if info.get("sub", payload["sub"]) != payload["sub"]:
            raise SignInRefused(_("The provider's user information is about someone else."))
        return {**payload, **info}

    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims):
        return get_user_model().objects.filter(
            external_identity__issuer=settings.OIDC_ISSUER, external_identity__subject=claims["sub"]
        )

    @transaction.atomic
    def create_user(self, claims):
        User = get_user_model()
        base = (claims.get("preferred_username") or claims.get("email", "").split("@")[0] or claims["sub"])[:140]
        username, n = base, 1
        while User.objects.filter(username=username).exists():
            n += 1
            username = f"{base}-{n}"
        user = User.objects.create_user(username, email=claims.get("email", ""))
        user.set_unusable_password()
        user.save(update_fields=["password"])
        ExternalIdentity.objects.create(user=user, issuer=settings.OIDC_ISSUER, subject=claims["sub"])
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user, claims):
        email = claims.get("email", "")
        if email and user.email != email:
            user.email = email
            user.save(update_fields=["email"])
        ExternalIdentity.objects.filter(user=user).update(last_sign_in_at=timezone.now())
        sync_provider_memberships(user=user, wanted=wanted_memberships(claims))
        return user


class SessionRefresh(LibrarySessionRefresh):
    """The library's silent re-authentication, only when single sign-on is configured.

    The provider's settings are read at each request, not once at start-up, so that a change of
    settings (and the tests' own provider) takes effect without a restart of the process.
    """

    def process_request(self, request):
        if not settings.SSO_ENABLED:
            return None
        self.OIDC_OP_AUTHORIZATION_ENDPOINT = settings.OIDC_OP_AUTHORIZATION_ENDPOINT
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_SCOPES = settings.OIDC_RP_SCOPES
        return super().process_request(request)


class AuthenticateView(OIDCAuthenticationRequestView):
    """The start of a single sign-on: to the provider (404 when single sign-on is not configured)."""

    def get(self, request):
        if not settings.SSO_ENABLED:
            raise Http404
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """The provider's redirect back: a refused answer shows the login page with why, and is audited."""

    def get(self, request):
        try:
            return super().get(request)
        except SuspiciousOperation as error:
            logger.warning("single sign-on refused: %s", error)
            if request.user.is_authenticated:
                auth.logout(request)
            message = str(error) if isinstance(error, SignInRefused) else _("This sign-in is not valid any more.")
            return refused(request, message)

    def login_failure(self):
        if self.request.GET.get("error"):
            # A silent refresh the provider refused (the person left, or their session there ended).
            return refused(
                self.request,
                _("The identity provider did not sign you in: %(error)s.") % {"error": self.request.GET["error"]},
            )
        return refused(self.request, _("Single sign-on did not complete; please try again."))


def refused(request, message: str):
    record_sign_in(user=None, request=request, succeeded=False, how="single sign-on", detail=message)
    return render(request, "registration/sso_refused.html", {"message": message}, status=400)
