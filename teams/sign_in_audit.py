"""Sign-ins, failed sign-ins and uses of revoked tokens, in the audit log of the teams concerned.

A person's sign-in is shown to the leads of each team they belong to; a failed sign-in under
an unknown username belongs to no team (django-axes keeps those, in the admin).
"""

import datetime as dt

from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.cache import cache

from teams.models import ApiToken, Membership

# At most one entry a minute per token (a client retrying a revoked key must not flood the log).
REVOKED_USE_EVERY = dt.timedelta(minutes=1)


def _address(request) -> str | None:
    return getattr(request, "axes_ip_address", None) or (request.META.get("REMOTE_ADDR") if request else None)


def record_sign_in(*, user, request, succeeded: bool) -> None:
    """One ACCESS entry per team of `user`: “signed in” or “failed sign-in”, with the client address."""
    event = "signed in" if succeeded else "failed sign-in"
    address = _address(request)
    team_ids = Membership.objects.filter(user=user).values_list("team_id", flat=True)
    for team_id in team_ids:
        LogEntry.objects.log_create(
            user,
            force_log=True,
            action=LogEntry.Action.ACCESS,
            actor=user if succeeded else None,
            remote_addr=address,
            additional_data={"team_id": team_id, "reason": f"{event} from {address or 'an unknown address'}"},
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
    record_sign_in(user=user, request=request, succeeded=True)


def on_user_login_failed(sender, credentials, request=None, **kwargs):
    if request is None or getattr(request, "axes_locked_out", False):
        return  # not from the network, or already locked out (axes counts those; the log need not)
    username = credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username")
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first() if username else None
    if user is not None:
        record_sign_in(user=user, request=request, succeeded=False)
