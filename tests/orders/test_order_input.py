"""The order API validates every order through one long-lived OrderInput (orders.apis.order_input_of): it must give
exactly what a new OrderInput's is_valid gives, for valid orders and for every refusal."""

import pytest
from rest_framework import serializers

from members.errors import InvalidPhoneError
from orders.apis import OrderInput, order_input_of

ITEM = {"sku": "MB-001", "name": "婴儿湿巾", "category": "母婴", "quantity": 2, "unit_price": "134.00"}
BASE = {"external_id": "TB001", "amount": "268.00", "paid_at": "2026-11-20T10:15:00+08:00", "items": [ITEM]}

VALID = [
    BASE,
    {**BASE, "phone": "138 0013 8000"},
    {**BASE, "phone": "+8613800138000", "status": "completed"},
    {**BASE, "phone": ""},
    {**BASE, "member_id": 12, "phone": ""},
    {**BASE, "member_id": "12"},
    {**BASE, "external_id": "  TB002 "},  # trimmed, as CharField does
    {**BASE, "amount": "268", "paid_at": "2026-11-20T02:15:00Z"},
    {**BASE, "amount": "268.5", "paid_at": "2026-11-20T10:15:00"},  # a time without offset
    {**BASE, "status": "cancelled", "items": []},
    {"external_id": "TB003", "amount": "0", "paid_at": "2026-11-20 10:15"},
    {**BASE, "items": [{"sku": "X", "quantity": "3", "unit_price": "1.5"}, {**ITEM, "name": "", "category": ""}]},
]

INVALID = [
    "not an object",
    [BASE],
    {**BASE, "coupon": "X"},
    {**BASE, "external_id": ""},
    {**BASE, "external_id": "x" * 65},
    {**BASE, "external_id": 12345},  # text as a number: the schema says string
    {**BASE, "amount": "1.005"},
    {**BASE, "amount": "-1"},
    {**BASE, "amount": "NaN"},
    {**BASE, "amount": None},
    {**BASE, "amount": ""},
    {**BASE, "amount": 268.5},  # money as a JSON number: the schema says a decimal string
    {**BASE, "amount": "0268.00"},
    {**BASE, "amount": " 268.00"},
    {**BASE, "amount": "2.68e2"},
    {**BASE, "items": [{**ITEM, "sku": 1001}]},
    {**BASE, "paid_at": "yesterday"},
    {**BASE, "status": "refunded"},
    {**BASE, "member_id": 0},
    {**BASE, "member_id": True},
    {**BASE, "member_id": 5, "phone": "13800138000"},
    {**BASE, "items": "MB-001"},
    {**BASE, "items": None},
    {**BASE, "items": ["MB-001"]},
    {**BASE, "items": [{**ITEM, "colour": "red"}]},
    {**BASE, "items": [{"quantity": 1, "unit_price": "1.00"}]},
    {**BASE, "items": [{**ITEM, "quantity": 0}]},
    {"amount": "1.00", "paid_at": "2026-11-20T10:15:00Z"},
]


def _serializer_result(data):
    serializer = OrderInput(data=data)
    try:
        serializer.is_valid(raise_exception=True)
    except serializers.ValidationError as exc:
        return ("invalid", exc.detail)
    except InvalidPhoneError as exc:
        return ("invalid_phone", exc.message)
    return ("valid", serializer.to_order())


@pytest.mark.parametrize("data", VALID)
def test_a_valid_order_is_validated_as_the_serializer_validates_it(data):
    expected = _serializer_result(data)

    assert expected[0] == "valid"
    assert order_input_of(data) == expected[1]


@pytest.mark.parametrize("data", INVALID)
def test_an_invalid_order_gets_the_serializers_error(data):
    expected = _serializer_result(data)
    assert expected[0] == "invalid"

    with pytest.raises(serializers.ValidationError) as raised:
        order_input_of(data)

    assert raised.value.detail == expected[1]


def test_a_malformed_phone_is_refused_as_the_serializer_refuses_it():
    data = {**BASE, "phone": "12345"}
    expected = _serializer_result(data)

    with pytest.raises(InvalidPhoneError) as raised:
        order_input_of(data)

    assert (expected[0], raised.value.message) == ("invalid_phone", expected[1])
