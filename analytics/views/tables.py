"""The pages' tables, shown formatted (analytics.formatting) and exported as CSV with the raw values: UTF-8 with a
byte order mark, so Excel opens Chinese text right; money as plain decimals, rates as fractions, empty for none."""

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.http import HttpResponse

from ..formatting import format_money, format_number, format_percent

KINDS = ("text", "num", "money", "pct")


@dataclass(frozen=True)
class Column:
    label: object  # a lazy translation
    kind: str = "num"


@dataclass
class Table:
    name: str  # the `table` parameter of its CSV export
    title: object
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    note: object = ""  # the definition written under the table

    def display(self, currency: str) -> list[list[tuple[str, str]]]:
        """Each row's cells as (text, kind) for the template."""
        show = {
            "text": lambda v: "–" if v is None else str(v),
            "num": format_number,
            "money": lambda v: format_money(v, currency),
            "pct": format_percent,
        }
        return [[(show[c.kind](v), c.kind) for c, v in zip(self.columns, row, strict=True)] for row in self.rows]


def _raw(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def csv_response(table: Table, filename: str) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(c.label) for c in table.columns])
    for row in table.rows:
        writer.writerow([_raw(v) for v in row])
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
