"""shops.ids: only ASCII digits within PostgreSQL's bigint are numbers; every other spelling is None, never an
exception (issue 16, item 5)."""

import pytest

from shops.ids import BIGINT_MAX, ascii_digits, parse_id, parse_int

NOT_IDS = [
    "",
    "¹",
    "²³",  # str.isdigit() is true for these, and int() refuses them
    "１２",
    "٣",
    "१",  # int() reads these as 12, 3 and 1
    "0",
    "-1",
    "+1",
    " 1",
    "1 ",
    "1\n",
    "1_000",
    "1.0",
    "0x1",
    "9223372036854775808",  # 2**63: beyond bigint
    "99999999999999999999",
    "1" * 5000,  # int() refuses (and would spend quadratic time on) very long digit strings
    None,
    7,
    b"7",
]


@pytest.mark.parametrize("text", NOT_IDS)
def test_anything_but_ascii_digits_within_bigint_is_no_id(text):
    assert parse_id(text) is None


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("007", 7), ("9223372036854775807", BIGINT_MAX)])
def test_ascii_digits_within_bigint_are_an_id(text, value):
    assert parse_id(text) == value


def test_parse_int_takes_a_minus_sign_and_bounds():
    assert parse_int("-9223372036854775808") == -(2**63)
    assert parse_int("-9223372036854775809") is None
    assert parse_int("0") == 0
    assert parse_int("5", minimum=1, maximum=5) == 5
    assert parse_int("6", minimum=1, maximum=5) is None
    assert [parse_int(text) for text in ("+5", "--5", "-", "5-", "-¹", "－5")] == [None] * 6


def test_ascii_digits_is_the_isdigit_that_means_it():
    assert ascii_digits("0123456789") and ascii_digits("000")
    assert not any(ascii_digits(text) for text in ("", "¹", "１", "٣", "-1", "1 ", "1\n", None, 1))
