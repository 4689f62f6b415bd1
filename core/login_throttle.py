"""Login throttling per user name and per address (django-axes), and the client address it counts.

Axes compares one failure count with one limit. Two rules with two limits are folded
into that one comparison: the per-address count is scaled onto the per-user limit, so
the login is locked when either rule reaches its own limit.
"""

import ipaddress

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings

# The order of AXES_LOCKOUT_PARAMETERS in settings: the first rule is per user name and
# address, the second per address across user names.
PER_USER, PER_ADDRESS = 0, 1


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the entry of X-Forwarded-For that the outermost trusted proxy added.

    With n trusted proxies in front of the app, each appends the address it received from,
    so the client is the n-th entry from the right; anything left of it is the client's own
    (forgeable) text. Without trusted proxies the header is ignored.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        return remote  # the request did not come through every proxy: trust none of the header
    candidate = forwarded[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


class PerUserAndAddressHandler(AxesDatabaseHandler):
    """Axes' database handler with a per-user and a per-address limit (AXES_ADDRESS_FAILURE_LIMIT)."""

    def get_failures(self, request, credentials=None) -> int:
        """The failures to compare with AXES_FAILURE_LIMIT: the per-user count, or the per-address one scaled."""
        counts = [self._sum(attempts) for attempts in self.get_user_attempts(request, credentials)]
        per_user = counts[PER_USER] if counts else 0
        if len(counts) <= PER_ADDRESS:
            return per_user
        user_limit, address_limit = settings.AXES_FAILURE_LIMIT, settings.AXES_ADDRESS_FAILURE_LIMIT
        # floor(a * u / A) >= u exactly when a >= A: the address is locked at its own limit.
        per_address = counts[PER_ADDRESS] * user_limit // address_limit
        return max(per_user, per_address)

    def reset_user_attempts(self, request, credentials=None) -> int:
        """A successful login forgives that user's failures only, not the address's other user names."""
        attempts = self.filter_user_attempts(request, credentials)[PER_USER]
        count, _ = attempts.delete()
        return count

    @staticmethod
    def _sum(attempts) -> int:
        return sum(attempts.values_list("failures_since_start", flat=True))
