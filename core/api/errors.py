"""One JSON error shape for the whole API and the webhooks: {"code", "message", "errors": {field: [messages]}}."""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import set_rollback

from core.api.plumbing import PayloadTooLarge

logger = logging.getLogger(__name__)

NON_FIELD = "non_field_errors"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be processed."
    default_code = "unprocessable"


def flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field" or "field.0.sub": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = NON_FIELD if key in ("__all__", NON_FIELD) and not prefix else str(key)
            for sub, messages in flatten(value, f"{prefix}{name}.").items():
                out.setdefault(sub, []).extend(messages)
    elif isinstance(detail, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in detail):
            out[prefix.rstrip(".") or NON_FIELD] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    for sub, messages in flatten(item, f"{prefix}{index}.").items():
                        out.setdefault(sub, []).extend(messages)
    else:
        out[prefix.rstrip(".") or NON_FIELD] = [str(detail)]
    return out


def _codes(codes) -> set[str]:
    if isinstance(codes, dict):
        return set().union(*(_codes(v) for v in codes.values())) if codes else set()
    if isinstance(codes, list | tuple):
        return set().union(*(_codes(v) for v in codes)) if codes else set()
    return {str(codes)}


def error_body(code: str, message: str, errors: dict | None = None) -> dict:
    return {"code": code, "message": str(message), "errors": errors or {}}


def error_json(status_code: int, code: str, message: str, errors: dict | None = None) -> JsonResponse:
    """The same error shape for plain Django views (the webhook receivers)."""
    return JsonResponse(error_body(code, message, errors), status=status_code)


def django_validation_error_to_drf(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(as_serializer_error(exc))


def exception_handler(exc, context):
    """DRF exception handler: every error, expected or defensive, in one shape."""
    if isinstance(exc, DjangoValidationError):
        exc = django_validation_error_to_drf(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, IntegrityError):
        # A concurrent write won a race on a uniqueness the services guard: the client may retry.
        logger.info("integrity error turned into 409: %s", exc)
        exc = Conflict(_("Another request changed this at the same time; retry."))
    elif isinstance(exc, DataError | OverflowError):
        exc = exceptions.ValidationError({NON_FIELD: [_("A value is out of range.")]})

    if not isinstance(exc, exceptions.APIException):
        return None

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    status_code = exc.status_code
    if isinstance(exc, exceptions.ValidationError):
        codes = _codes(exc.get_codes())
        errors = flatten(exc.detail)
        if "conflict" in codes:
            status_code, code = status.HTTP_409_CONFLICT, "conflict"
            message = next(iter(errors.values()))[0]
        else:
            code, message = "invalid", _("The request has invalid fields.")
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        message, errors = str(exc.detail), {}
    set_rollback()
    return Response(error_body(code, message, errors), status=status_code, headers=headers)
