"""Login throttling against brute force (django-axes), and the local password backend."""

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' lockout check for every login that comes with a request.

    Logins without a request (the test client's `login()`, management
    commands) are not exposed to the network: they are left to the next
    backend instead of failing.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LocalPasswordBackend(ModelBackend):
    """Username and password, unless LOCAL_LOGIN_ENABLED is off: then only the break-glass administrator."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not settings.LOCAL_LOGIN_ENABLED and (
            not settings.BREAK_GLASS_USERNAME or username != settings.BREAK_GLASS_USERNAME
        ):
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
