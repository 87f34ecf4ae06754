from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings

from .fields import strict_strings


class StrictSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know, and text given as anything but a JSON string:
    nothing a client sends is silently dropped or guessed at."""

    def get_fields(self):
        # Every string field, however declared, takes JSON strings only (as the schema says), where DRF's CharField
        # would turn 12345 into "12345".
        return {name: strict_strings(field) for name, field in super().get_fields().items()}

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


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
