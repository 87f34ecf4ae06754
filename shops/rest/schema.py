"""The OpenAPI schema documents every answer the API gives, errors included (SPEC 10: one error format)."""

import re

from django.conf import settings
from django.core.validators import RegexValidator
from drf_spectacular.drainage import warn
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from .fields import AmountField
from .serializers import StrictSerializer


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
    """The schema says what validation does.

    Adds the error answers every API operation can give: 401, 403 and 429 always; 400 when it takes input (a body,
    query parameters, or a page size); 413 when it takes a body; 404 when its path names an object or it pages a
    list. Conflicts (409) are declared by the views that can answer them (CONFLICT above).

    And publishes the rules drf-spectacular leaves out or turns round: an input serializer's refusal of unknown
    fields (StrictSerializer), of "" (allow_blank=False) and of NUL characters in text, the refusal of NUL in query
    parameters (ShopAPIView), the length limits of a nested list, AmountField's own pattern, and the true pattern
    of a validator that refuses what it matches."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        for parameter in (operation or {}).get("parameters", []):
            if parameter["in"] == "query":
                _text_rules(parameter["schema"], blank=True)
        return operation

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if not isinstance(serializer, StrictSerializer):
            return schema  # output text may well be "" (and is what it is)
        schema["additionalProperties"] = False
        for name, field in serializer.fields.items():
            prop = schema["properties"].get(name, {})
            if isinstance(field, serializers.ListField) and "items" in prop:
                field, prop = field.child, prop["items"]
            if isinstance(field, serializers.CharField):
                _text_rules(prop, blank=field.allow_blank)
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if schema is None or "$ref" in schema:
            return schema
        if isinstance(field, AmountField):
            schema["pattern"] = field.pattern
        elif isinstance(field, serializers.ListSerializer):  # many=True: DRF checks these, drf-spectacular omits them
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
            if field.min_length is not None or not field.allow_empty:
                schema["minItems"] = max(field.min_length or 0, 0 if field.allow_empty else 1)
        return schema

    def _insert_field_validators(self, field, schema):
        had_pattern = "pattern" in schema
        super()._insert_field_validators(field, schema)
        regexes = [v for v in field.validators if isinstance(v, RegexValidator)]
        if not had_pattern and regexes and regexes[0].inverse_match:  # published as a pattern to match
            refusing = _refusing(regexes[0].regex.pattern, field)
            if refusing:
                schema["pattern"] = refusing
            else:
                del schema["pattern"]

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response" or not self.path.startswith("/api/"):
            return responses
        codes = ["401", "403", "429"]
        if self.method in {"POST", "PUT", "PATCH"}:
            codes += ["400", "413"]
        elif self.get_override_parameters() or self._get_pagination_parameters():
            codes.append("400")
        if "{" in self.path or self._is_list_view():
            codes.append("404")
        for code in sorted(codes):
            if code not in responses:
                responses[code] = self._get_response_for_code(error_response(ERRORS[code]), code)
        return responses


def _text_rules(schema: dict, *, blank: bool):
    """What DRF's CharField (and ShopAPIView, for query parameters) refuse of any text: a NUL character (no text
    column stores one), and "" unless blank is allowed. A field's own pattern or choices say more already."""
    if schema.get("type") != "string" or "enum" in schema:
        return
    if not blank:
        schema.setdefault("minLength", 1)
    schema.setdefault("pattern", "^[^\\u0000]*$")


def _refusing(pattern: str, field) -> str | None:
    """A pattern matching the strings in which `pattern` finds nothing: for a character class, "none of these
    characters". Other refusing patterns have no such plain form: say so at schema generation (a warning fails
    `spectacular --fail-on-warn`) rather than publish a rule that is not the one applied."""
    if re.fullmatch(r"\[[^\[\]^]+\]", pattern):
        return f"^[^{pattern[1:-1]}\\u0000]*$"  # nor NUL, which no text field takes (_text_rules)
    warn(f"{field.field_name}: no pattern says what the refusing validator {pattern!r} refuses; it is not published")
    return None
