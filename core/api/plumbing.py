"""Classes named in REST_FRAMEWORK settings: kept free of view imports (DRF loads them while defining APIView)."""

import json

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, filters, pagination, parsers


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONParser(parsers.JSONParser):
    """JSON only as RFC 8259 says: UTF-8, no NaN/Infinity, no NUL characters, bounded size."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge()
        return parse_json_bytes(raw)


def parse_json_bytes(raw: bytes):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise exceptions.ParseError(_("The body is not valid UTF-8.")) from None
    if "\x00" in text or "\\u0000" in text:
        raise exceptions.ParseError(_("NUL characters are not allowed."))
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise exceptions.ParseError(_("Malformed JSON: %(error)s") % {"error": exc}) from None


def check_body_size(request) -> None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise PayloadTooLarge()


class StablePagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_number(self, request, paginator):
        value = request.query_params.get(self.page_query_param) or 1
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise exceptions.ValidationError({"page": [_("A page number is a positive integer.")]}) from None
        if number < 1 or number > 10**9:
            raise exceptions.ValidationError({"page": [_("A page number is a positive integer.")]})
        return number


class StableOrderingFilter(filters.OrderingFilter):
    """Client ordering, always ending on the primary key so pages never overlap or skip rows."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or queryset.query.order_by or ["-pk"])
        if not any(term.lstrip("-") in ("pk", "id") for term in ordering):
            ordering.append("-pk")
        return ordering

    def filter_queryset(self, request, queryset, view):
        return queryset.order_by(*self.get_ordering(request, queryset, view))
