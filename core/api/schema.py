"""OpenAPI: every operation documents the error responses it can return, in the one error shape."""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `invalid`, `not_found`, `conflict`.")
    message = serializers.CharField(help_text="A sentence for people.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field at fault (`non_field_errors` for the whole request).",
    )

    class Meta:
        ref_name = "Error"


READ_ERRORS = {
    "400": "Invalid query parameters.",
    "401": "No credentials, or an invalid or revoked token.",
    "403": "Authenticated, but the role or token scope does not allow this.",
    "404": "Not found, or it belongs to a team the caller cannot see.",
    "429": "Too many requests for this token; retry after the `Retry-After` seconds.",
}
WRITE_ERRORS = {
    "400": "Invalid body: wrong types, unknown values, timestamps out of order, malformed JSON or UTF-8.",
    "409": "Conflict with the current state (e.g. the action moved meanwhile).",
    "413": "The body is larger than the limit (1 MiB by default).",
    "415": "The body is not JSON.",
    "422": "Idempotency-Key reused with another body.",
}


class OpsKaizenAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = dict(READ_ERRORS)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            errors.update(WRITE_ERRORS)
        for code, description in errors.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = description
                responses[code] = response
        return responses
