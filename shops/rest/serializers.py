from collections.abc import Mapping

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings

from shops.text import multiline_text, single_line_text

from .fields import strict_strings

# What marks a multi-line text field (a description): DRF's own hint for a textarea, also used by its browsable API.
MULTILINE = {"base_template": "textarea.html"}


def _plain_text(field: serializers.Field) -> None:
    """Give a text field, or the text fields inside a list or dict field, the plain-text validator (shops.text)."""
    if isinstance(field, serializers.CharField):
        multiline = field.style.get("base_template") == MULTILINE["base_template"]
        field.validators.append(multiline_text if multiline else single_line_text)
    elif isinstance(field, serializers.ListField | serializers.DictField):
        _plain_text(field.child)


class StrictSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know, and text given as anything but a JSON string:
    nothing a client sends is silently dropped or guessed at. Its text fields refuse control and invisible format
    characters (shops.text) without each saying so; a field with `style=MULTILINE` keeps newlines and tabs. Every
    input serializer of the API is one (tests/test_architecture.py)."""

    def get_fields(self):
        fields = super().get_fields()  # this serializer's own copies: the class's fields stay as declared
        for field in fields.values():
            # Every string field, however declared, takes JSON strings only (as the schema says), where DRF's
            # CharField would turn 12345 into "12345".
            strict_strings(field)
            _plain_text(field)
        return fields

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.INT64)
class Int64Field(serializers.IntegerField):
    """An output integer documented as int64: points, growth value. A bare OpenAPI "integer" is a 32-bit int to many
    client generators, which would cut a balance above 2,147,483,647 as the database driver once did (issue 16).
    (Input fields bounded beyond 32 bits, such as max_value=MAX_POINTS, are documented as int64 already.)"""


def validated(serializer: serializers.Serializer, data) -> dict:
    """`serializer`'s validated data for `data`, or the ValidationError that `type(serializer)(data=data)
    .is_valid(raise_exception=True)` raises, from one serializer built once for every request: DRF deep-copies the
    declared fields of each serializer it builds, and run_validation keeps no state between calls."""
    try:
        return serializer.run_validation(data)
    except serializers.ValidationError as exc:
        detail = exc.detail
        if isinstance(detail, list) and len(detail) == 1 and getattr(detail[0], "code", None) == "null":
            detail = {api_settings.NON_FIELD_ERRORS_KEY: [ErrorDetail("No data provided", code="null")]}  # as is_valid
        raise serializers.ValidationError(detail) from None
