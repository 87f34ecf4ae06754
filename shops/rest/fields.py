"""Input fields whose OpenAPI schema is exactly what they accept (SPEC 10: money as decimal strings)."""

import re
from decimal import Decimal
from functools import cache

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


def amount_pattern(*, whole_digits: int, decimal_places: int, positive: bool) -> str:
    """The ECMA (and Python) regular expression of the amounts AmountField takes: ASCII digits without a sign,
    an exponent, spaces or leading zeros, and at most `decimal_places` after the point; above zero if `positive`."""

    def digits(most: int) -> str:
        return {0: "", 1: "[0-9]?"}.get(most, f"[0-9]{{0,{most}}}")

    whole = "[1-9]" + digits(whole_digits - 1)
    fraction = rf"(\.[0-9]{{1,{decimal_places}}})?" if decimal_places else ""
    if not positive:
        return rf"^(0|{whole}){fraction}$"
    if not decimal_places:
        return rf"^{whole}$"
    # Or zero point something not all zeros: k zeros, a non-zero digit, then any digits up to the places.
    small = "|".join("0" * k + "[1-9]" + digits(decimal_places - 1 - k) for k in range(decimal_places))
    return rf"^({whole}{fraction}|0\.({small}))$"


class AmountField(serializers.DecimalField):
    """A non-negative decimal (or, with positive=True, one above zero) sent as a JSON string, e.g. "268.00".

    `pattern` is both the rule and the OpenAPI schema's pattern (shops.rest.schema publishes it): DRF's
    DecimalField alone takes JSON numbers (floats), "", " 1e2 " and "-1" while its schema's pattern, which says
    nothing of the sign, also admits "". Refusals say what is wrong: not a string, a negative amount, too many
    decimals, or else the format."""

    default_error_messages = {
        "not_a_string": _('Send the amount as a JSON string, e.g. "268.00".'),
        "format": _('Write the amount with digits and a decimal point only, e.g. "268.00".'),
    }

    def __init__(self, *, max_digits: int = 12, decimal_places: int = 2, positive: bool = False, **kwargs):
        smallest = Decimal(1).scaleb(-decimal_places) if positive else Decimal(0)
        super().__init__(max_digits=max_digits, decimal_places=decimal_places, min_value=smallest, **kwargs)
        self.pattern = amount_pattern(
            whole_digits=max_digits - decimal_places, decimal_places=decimal_places, positive=positive
        )
        self._regex = re.compile(self.pattern)

    def validate_empty_values(self, data):
        # DecimalField reads "" as null when null is allowed; the schema says null is null and "" is no amount.
        return serializers.Field.validate_empty_values(self, data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        if not self._regex.fullmatch(data):
            value = super().to_internal_value(data)  # DRF's own message first: not a number, too many decimals
            if value < self.min_value:
                self.fail("min_value", min_value=self.min_value)
            self.fail("format")
        return self.quantize(Decimal(data))  # the pattern leaves DRF's checks of the text nothing to find


class StrictString:
    """A string field that takes JSON strings only, as the schema says (DRF's CharField turns 12345 into
    "12345"). StrictSerializer gives every string field of an input serializer this behaviour."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@cache
def _strict_class(cls: type) -> type:
    return type(cls.__name__, (StrictString, cls), {"__module__": cls.__module__})


def strict_strings(field: serializers.Field) -> serializers.Field:
    """Make `field` (and the children of a list or dict field) refuse anything but a JSON string where it reads
    text: its class becomes a subclass with StrictString, so its other rules, messages and schema stay as declared.
    For the fresh copies of declared fields that each serializer instance holds (Serializer.get_fields)."""
    if isinstance(field, serializers.CharField) and not isinstance(field, StrictString):
        field.__class__ = _strict_class(type(field))
    child = getattr(field, "child", None)
    if isinstance(field, serializers.ListField | serializers.DictField) and child is not None:
        strict_strings(child)
    return field
