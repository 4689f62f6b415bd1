"""Sign-ins, failed sign-ins and uses of revoked tokens, in the audit log of the teams concerned.

A person's sign-in is shown to the leads of each team they belong to; a failed sign-in under
an unknown username belongs to no team (django-axes keeps those, in the admin).
"""

import datetime as dt
import logging

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache

from teams.models import ApiToken, Membership, Team

logger = logging.getLogger(__name__)

# At most one entry a minute per token (a client retrying a revoked key must not flood the log).
REVOKED_USE_EVERY = dt.timedelta(minutes=1)


def _address(request) -> str | None:
    return getattr(request, "axes_ip_address", None) or (request.META.get("REMOTE_ADDR") if request else None)


def is_break_glass(user) -> bool:
    """The one local administrator who signs in with a password while local sign-in is turned off."""
    name = settings.BREAK_GLASS_USERNAME
    return bool(name) and user.get_username() == name


def record_sign_in(*, user, request, succeeded: bool, how: str = "password", detail: str = "") -> None:
    """One ACCESS entry per team of `user`: “signed in” or “failed sign-in”, how, and the client address.

    The break-glass administrator's sign-in is in every team's log: it happens when the provider is
    down, and every lead should see who came in that way. A refused single sign-on with no known
    person behind it belongs to no team: it is logged (with why) for the operator.
    """
    event = "signed in" if succeeded else "failed sign-in"
    address = _address(request)
    if user is None:
        logger.warning("%s via %s from %s: %s", event, how, address or "an unknown address", detail)
        return
    if how == "password" and succeeded and not settings.LOCAL_LOGIN_ENABLED and is_break_glass(user):
        how = "the break-glass account (local sign-in is off)"
        team_ids = Team.objects.values_list("pk", flat=True)
        logger.warning("break-glass sign-in by %s from %s", user, address)
    else:
        team_ids = Membership.objects.filter(user=user).values_list("team_id", flat=True)
    reason = f"{event} via {how} from {address or 'an unknown address'}" + (f": {detail}" if detail else "")
    for team_id in team_ids:
        LogEntry.objects.log_create(
            user,
            force_log=True,
            action=LogEntry.Action.ACCESS,
            actor=user if succeeded else None,
            remote_addr=address,
            additional_data={"team_id": team_id, "reason": reason},
        )


def record_revoked_token_use(*, token: ApiToken, request) -> None:
    """An ACCESS entry on the team's log when a revoked token is presented (once a minute per token)."""
    if not cache.add(f"revoked-token-use:{token.pk}", 1, timeout=int(REVOKED_USE_EVERY.total_seconds())):
        return
    address = _address(request)
    LogEntry.objects.log_create(
        token,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        remote_addr=address,
        additional_data={"team_id": token.team_id, "reason": f"used after revocation from {address or 'unknown'}"},
    )


def on_user_logged_in(sender, request, user, **kwargs):
    single_sign_on = getattr(user, "backend", "").endswith("ProviderBackend")
    record_sign_in(user=user, request=request, succeeded=True, how="single sign-on" if single_sign_on else "password")


def on_user_login_failed(sender, credentials, request=None, **kwargs):
    if request is None or getattr(request, "axes_locked_out", False):
        return  # not from the network, or already locked out (axes counts those; the log need not)
    username = credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username")
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first() if username else None
    if user is not None:
        record_sign_in(user=user, request=request, succeeded=False)
