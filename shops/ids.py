"""Whole numbers from text that people and clients send: ids in query strings and forms, counts in imported rows.

Why not `str.isdigit()` and `int()`: isdigit() is true for superscript digits (¹²³), which int() then refuses (a 500
where a clear error was due), and int() reads fullwidth and other scripts' digits (１２, ٣), a sign and spaces
around, so text that no client meant as an id would name an object. A number beyond PostgreSQL's bigint is refused
by the database with an error in raw SQL. Here only ASCII digits within bigint are numbers; anything else is None,
which each caller answers with its own clear error (400 in the API, a form error, a 404 for an id in an address, a
row error in an import). tests/test_architecture.py keeps the str methods out of the apps.
"""

import re

BIGINT_MAX = 2**63 - 1
BIGINT_MIN = -(2**63)
_DIGITS = re.compile(r"[0-9]+")  # not \d, which matches every script's decimal digits
_SIGNED = re.compile(r"-?[0-9]+")
# Longer text is no bigint (19 digits and a sign, give or take leading zeros); also keeps int() away from the
# thousands of digits it spends quadratic time on.
_MAX_LENGTH = 24


def ascii_digits(text) -> bool:
    """Whether `text` is a non-empty string of the ASCII digits 0-9 and nothing else (no sign, no spaces)."""
    return isinstance(text, str) and _DIGITS.fullmatch(text) is not None


def parse_int(text, *, minimum: int = BIGINT_MIN, maximum: int = BIGINT_MAX) -> int | None:
    """`text` as a whole number from `minimum` to `maximum`: ASCII digits with an optional leading "-", nothing
    around them. None for anything else."""
    if not isinstance(text, str) or len(text) > _MAX_LENGTH or _SIGNED.fullmatch(text) is None:
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


def parse_id(text) -> int | None:
    """`text` as an object id: ASCII digits only, from 1 to 2**63 - 1 (a PostgreSQL bigint). None otherwise."""
    return parse_int(text, minimum=1)
