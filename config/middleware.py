"""Project-wide middleware."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

MACHINE_PREFIXES = ("/api/", "/hooks/")


class DatabaseUnavailableMiddleware:
    """A lost database connection becomes a clean 503 with Retry-After, not a 500.

    The write in progress was inside a transaction (every service is atomic),
    so the database rolled it back: the client may simply retry.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("database unavailable during %s %s: %s", request.method, request.path, exception)
        message = _("The database is unavailable. Nothing was saved; try again in a moment.")
        if request.path.startswith(MACHINE_PREFIXES):
            response = JsonResponse({"code": "service_unavailable", "message": message, "errors": {}}, status=503)
        else:
            response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = "5"
        return response
