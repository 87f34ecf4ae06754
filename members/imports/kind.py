"""What a kind of import is made of, and what the engine (members.imports.engine) exchanges with it.

A kind (members.imports.members_kind, orders.imports) is an ImportKindHandler: the columns it reads, how its rows
become units of work, and how a chunk of units is written. Rows are read by field name through Row; a row that
cannot be imported raises RowError, and the kind reports it as an error entry naming the row. The field parsers
here are the ones both kinds share.
"""

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import phonenumbers
from django.utils.translation import gettext as _

from shops.text import code_point, hidden_character

from ..phones import InvalidPhone, normalize_phone
from .files import Columns

# --- Rows, read by field name, and their errors --------------------------------------------------------------------


class RowError(Exception):
    """One row cannot be imported; the message is its reason in the report."""


# A phone column is known by these names in every kind of file (compared through members.imports.files.header_key).
PHONE_ALIASES = ("手机号", "手机", "手机号码", "电话", "电话号码", "联系电话", "phone", "mobile", "phonenumber", "tel")


class Row:
    """One data row, read by field name."""

    def __init__(self, number: int, cells: list, columns: Columns):
        self.number, self.cells, self.columns = number, cells, columns

    def __getitem__(self, name: str):
        index = self.columns.positions.get(name)
        return self.cells[index] if index is not None and index < len(self.cells) else ""

    def column(self, name: str) -> str:
        return self.columns.headers.get(name, name)

    def text(self, name: str, *, max_length: int, required: bool = False) -> str:
        value = self[name]
        text = value.isoformat() if isinstance(value, datetime.date) else value
        if required and not text:
            raise RowError(_("%(column)s is empty.") % {"column": self.column(name)})
        if len(text) > max_length:
            raise RowError(
                _("%(column)s is longer than %(max)s characters.") % {"column": self.column(name), "max": max_length}
            )
        if (char := hidden_character(text)) is not None:
            raise RowError(
                _(
                    "%(column)s holds the invisible character %(char)s: control and text-direction characters are not "
                    "allowed."
                )
                % {"column": self.column(name), "char": code_point(char)}
            )
        return text


# --- Field parsers: each raises RowError with the reason -------------------------------------------------------


_MAINLAND_MOBILE = re.compile(r"(?:\+86|86(?=\d{11}$))?(1\d{10})")


def row_phone(row: Row) -> str:
    """The row's phone in E.164, as members.phones.normalize_phone gives it. Raises RowError."""
    raw = row.text("phone", max_length=40, required=True)
    # Most imported numbers are mainland mobiles. They are checked against phonenumbers' own rules without parsing
    # the text first, four times faster; anything else (and any number the check refuses) takes the general path.
    if (match := _MAINLAND_MOBILE.fullmatch(re.sub(r"[ -]", "", raw))) and phonenumbers.is_valid_number(
        phonenumbers.PhoneNumber(country_code=86, national_number=int(match[1]))
    ):
        return "+86" + match[1]
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        raise RowError(_("Not a valid phone number: %(value)s") % {"value": raw}) from None


def row_amount(row: Row, name: str, *, required: bool = True) -> Decimal | None:
    """The amount in column `name`, rounded to cents (more decimals are refused); None when blank and not
    `required`. Raises RowError."""
    raw = row[name]
    text = raw.isoformat() if isinstance(raw, datetime.date) else raw
    text = re.sub(r"[¥￥,，\s]", "", text)
    if not text:
        if required:
            raise RowError(_("%(column)s is empty.") % {"column": row.column(name)})
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0 or value.as_tuple().exponent < -2 or value >= 10**10:
        raise RowError(_("Not a valid amount in %(column)s: %(value)s") % {"column": row.column(name), "value": raw})
    return value.quantize(Decimal("0.01"))  # exact: at most two decimals were given


# --- What a kind exchanges with the engine: units of work in, chunk results out ------------------------------------


@dataclass
class Unit:
    """What one or more rows become: a value to write, or the errors that keep them out."""

    rows: list[int]
    value: object = None
    errors: list[dict] = field(default_factory=list)


def error_entry(row: int, reason: str) -> dict:
    return {"row": row, "reason": reason}


@dataclass
class ChunkResult:
    """What writing a chunk did: rows created, rows that were there already, and the errors of the others."""

    created: int = 0
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class ImportKindHandler:
    """One kind of file: its columns, how its rows become units of work, and how a chunk of units is written."""

    columns: dict[str, tuple[str, ...]]  # field -> header names it is known by (compared through header_key)
    required: dict[str, str]  # field -> how a message names the column when it is missing ("手机号/phone")
    # (table=, columns=, shop=, now=) -> units, deterministic for one file; may raise ImportFileError
    units: Callable[..., list[Unit]]
    # (shop=, units=) -> ChunkResult; runs inside the transaction that also records the chunk's progress
    write: Callable[..., ChunkResult]
    chunk_size: int | None = None  # units per chunk at most, when fewer than the engine's CHUNK_SIZE
