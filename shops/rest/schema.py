"""The OpenAPI schema documents every answer the API gives, errors included (SPEC 10: one error format)."""

from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case code, e.g. order_conflict.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    details = serializers.DictField(help_text="Machine-readable context: the fields at fault, the limits, ...")

    class Meta:
        ref_name = "Error"


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


# For views to declare in extend_schema(responses=...): only they know whether a write can conflict.
CONFLICT = error_response("Conflict with the current state (the code says which): nothing was changed.")

ERRORS = {
    "400": "Invalid input (code invalid or a specific one); details name the fields. Nothing was changed.",
    "401": "Missing, unknown or revoked API key.",
    "403": "The shop is frozen, or the key may not do this.",
    "404": "No such object in this shop (another shop's objects are not found either), or a stale page cursor.",
    "413": f"request_too_large: the body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
    "429": "Rate limited: retry after the Retry-After header's seconds.",
}


class ContractAutoSchema(AutoSchema):
    """Adds the error answers every API operation can give: 401, 403 and 429 always; 400 when it takes input (a
    body or query parameters); 413 when it takes a body; 404 when its path names an object or it pages a list.
    Conflicts (409) are declared by the views that can answer them (CONFLICT above)."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response" or not self.path.startswith("/api/"):
            return responses
        codes = ["401", "403", "429"]
        if self.method in {"POST", "PUT", "PATCH"}:
            codes += ["400", "413"]
        elif self.get_override_parameters():
            codes.append("400")
        if "{" in self.path or self._is_list_view():
            codes.append("404")
        for code in sorted(codes):
            if code not in responses:
                responses[code] = self._get_response_for_code(error_response(ERRORS[code]), code)
        return responses
