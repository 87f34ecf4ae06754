"""Coupon codes: 16 random hexadecimal digits (64 bits from the operating system's or PostgreSQL's secure random
source), so a code cannot be guessed from another. Shown in groups of four; typed in any case, with or without
spaces and hyphens. Imported codes keep their own letters and digits."""

import re
import secrets

from django.db import connection

CODE_LENGTH = 16
_SEPARATORS = re.compile(r"[\s\-]+")
IMPORTED_CODE = re.compile(r"^[A-Z0-9]{4,32}$")


def code_new() -> str:
    return secrets.token_hex(CODE_LENGTH // 2).upper()


def code_sql() -> str:
    """An SQL expression making one new code per row, for set-based issuance. gen_random_uuid() draws on
    PostgreSQL's strong random source (122 random bits, hashed to 64); SQLite's randomblob() on the OS's."""
    if connection.vendor == "postgresql":
        return "upper(substr(md5(gen_random_uuid()::text), 1, 16))"
    return "hex(randomblob(8))"


def code_normalize(raw: str) -> str:
    """The stored form of a code as typed: upper case, no spaces or hyphens."""
    return _SEPARATORS.sub("", str(raw)).upper()


def code_display(code: str) -> str:
    """ABCD-1234-…: groups of four, for reading out at a till."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
