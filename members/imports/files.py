"""Reading an uploaded import file within bounds: a CSV or XLSX file in, the columns of its header row and its data
rows out. Shared by every kind of import (members.imports.engine runs them all; kinds above members register
for the IMPORT_HANDLER extension point).

Files are read on workers that every shop shares, so nothing in a file may decide how much memory or time reading
it takes: a 201 KB workbook once grew a worker by 390 MB, and 45 KB of blank rows took 30 s. Each bound is refused
with its own message (ImportFileError) before the work it guards:

- the upload, MAX_FILE_BYTES (compressed, for an XLSX);
- an XLSX's zip directory and XML, before openpyxl reads them (members.imports.xlsx);
- rows read, blank ones included, MAX_ROWS_READ: a sheet whose one row is numbered 1,048,576 makes openpyxl yield a
  million blank rows from a few bytes. Data rows, MAX_ROWS;
- columns: the first MAX_COLUMNS are read; a CSV record is at most MAX_RECORD_CHARS long and a cell MAX_CELL_CHARS;
- what is kept: only the cells of the columns the import reads, MAX_TABLE_CHARS in all, because an XLSX stores a
  shared string once and may use it in every row;
- the time spent reading, MAX_READ_SECONDS, checked at every row and every block of XML.
"""

import csv
import datetime
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from time import thread_time

from django.utils.translation import gettext as _

from ..errors import ImportFileError
from .xlsx import archive_check, open_archive, xlsx_rows

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000  # data rows
MAX_ROWS_READ = 250_000  # rows read, blank ones included
MAX_COLUMNS = 200
MAX_RECORD_CHARS = 100_000  # one CSV record; below the csv module's own field limit (131,072)
MAX_CELL_CHARS = 32_767  # as in Excel
MAX_TABLE_CHARS = 50_000_000  # the cells kept, in all: a file of 200,000 orders with items holds about 15 million
# Of processor time. The largest files measured here: 200,000 rows of XLSX cost about 65 s, of CSV a few seconds.
MAX_READ_SECONDS = 180
EXTENSIONS = (".csv", ".xlsx")


def _deadline(on_progress: Callable[[], None] | None) -> Callable[[], None]:
    """A check, made at every row and every block of XML, that raises ImportFileError once reading has cost
    MAX_READ_SECONDS of this thread's processor time (the time the worker spends, whatever else runs on the
    machine), and calls `on_progress`."""
    deadline = thread_time() + MAX_READ_SECONDS

    def check_time() -> None:
        if thread_time() >= deadline:
            raise ImportFileError(
                _("Reading the file took more than %(limit)s seconds of processing: split it into smaller files.")
                % {"limit": MAX_READ_SECONDS}
            )
        if on_progress is not None:
            on_progress()

    return check_time


# --- The upload as a whole ---------------------------------------------------------------------------------------


def import_file_check(*, name: str, size: int, handle=None) -> str:
    """The file's extension when its name and size are acceptable and, given an open `handle` of an XLSX, its zip
    directory too (which reads the directory only, fast enough for a request). Raises ImportFileError."""
    extension = PurePath(name or "").suffix.lower()
    if extension == ".xls":
        raise ImportFileError(_("Old Excel files (.xls) cannot be read: save the file as .xlsx or CSV."))
    if extension not in EXTENSIONS:
        raise ImportFileError(_("Upload a CSV or XLSX file."))
    if size > MAX_FILE_BYTES:
        raise ImportFileError(
            _("The file is larger than %(limit)s MB: split it into smaller files.")
            % {"limit": MAX_FILE_BYTES // (1024 * 1024)}
        )
    if size == 0:
        raise ImportFileError(_("The file is empty."))
    if extension == ".xlsx" and handle is not None:
        handle.seek(0)
        try:
            with open_archive(handle) as archive:
                archive_check(archive)
        finally:
            handle.seek(0)
    return extension


# --- Rows of either kind of file, as (row number, cells) -------------------------------------------------------


def text_of_upload(data: bytes) -> str | None:
    """An uploaded text file's contents, read as UTF-8 or else GBK; None when it is neither (or binary). Excel in
    China saves CSV as GBK; GB18030 is its superset. UTF-8 is tried first: GBK text is almost never valid UTF-8,
    while UTF-8 text often decodes (wrongly) as GB18030."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    return None


class _Lines:
    """The physical lines of a CSV text, counted against the record the csv reader is reading (a quoted cell may
    span lines): a file of one 20 MB line would otherwise become a list of millions of cells."""

    def __init__(self, text: str):
        self.lines = io.StringIO(text, newline="")
        self.chars = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.chars += len(line)
        if self.chars > MAX_RECORD_CHARS:
            raise ImportFileError(
                _("A row of the file is longer than %(limit)s characters: is it really a CSV file?")
                % {"limit": f"{MAX_RECORD_CHARS:,}"}
            )
        return line


def _csv_rows(data: bytes, *, max_columns: int) -> Iterator[list]:
    """The records of a CSV file, each cut to `max_columns` cells."""
    text = text_of_upload(data)
    if text is None:
        raise ImportFileError(_("The file is not UTF-8 or GBK text: save it as CSV (UTF-8) or XLSX."))
    end = text.find("\n", 0, MAX_RECORD_CHARS)
    first_line = text[: end if end >= 0 else MAX_RECORD_CHARS]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        for cells in reader:
            lines.chars = 0
            yield cells[:max_columns]
    except csv.Error as exc:
        raise ImportFileError(
            _("The file could not be read as CSV (row %(row)s): %(error)s") % {"row": reader.line_num, "error": exc}
        ) from None


def _clean(value):
    """A cell as text, except dates and times from XLSX, which stay date/datetime objects."""
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        raise ImportFileError(
            _("A cell of the file is longer than %(limit)s characters.") % {"limit": f"{MAX_CELL_CHARS:,}"}
        )
    text = str(value).strip()
    if text.startswith("'"):  # Excel's "this is text" mark, written by many exports in front of long numbers
        text = text[1:].strip()
    return text


def _blank(cells) -> bool:
    # Counting in C first: blank rows are the ones a file can hold by the hundred thousand.
    return cells.count(None) + cells.count("") == len(cells) or all(_clean(cell) == "" for cell in cells)


def _bounded_rows(rows: Iterator, check_time: Callable[[], None]) -> Iterator[tuple[int, list]]:
    """The rows that are not blank, each numbered as a spreadsheet shows it. Every row read counts against
    MAX_ROWS_READ and the time, blank ones included."""
    for number, cells in enumerate(rows, start=1):
        if number > MAX_ROWS_READ:
            raise ImportFileError(
                _(
                    "The file has more than %(limit)s rows, counting empty ones: delete the empty rows below the "
                    "data, or split the file."
                )
                % {"limit": f"{MAX_ROWS_READ:,}"}
            )
        check_time()
        if not _blank(cells):
            yield number, cells


# --- Columns: Chinese or English names, matched loosely ----------------------------------------------------------


def header_key(text: str) -> str:
    """'手机号（必填）' -> '手机号', 'External_ID' -> 'externalid', '* Phone ' -> 'phone'."""
    text = re.sub(r"[（(][^）)]*[）)]", "", str(text))
    return re.sub(r"[\s_\-*.:：/]", "", text).lower()


@dataclass
class Columns:
    positions: dict[str, int]  # field -> cell index
    headers: dict[str, str]  # field -> the header as written in the file, for messages
    ignored: list[str]


def _map_columns(header: list[str], spec: dict[str, tuple[str, ...]], required: dict[str, str]) -> Columns:
    """Raises ImportFileError for missing required columns and for two columns that mean the same."""
    by_alias = {header_key(alias): name for name, aliases in spec.items() for alias in aliases}
    positions, headers, ignored = {}, {}, []
    for index, text in enumerate(header):
        name = by_alias.get(header_key(text))
        if name is None:
            if text:
                ignored.append(text)
            continue
        if name in positions:
            raise ImportFileError(
                _("Two columns mean the same thing: %(first)s and %(second)s. Keep one.")
                % {"first": headers[name], "second": text}
            )
        positions[name], headers[name] = index, text
    missing = [label for name, label in required.items() if name not in positions]
    if missing:
        preview = ", ".join(h for h in header if h)[:120]
        raise ImportFileError(
            _("Required columns are missing: %(columns)s. The first row must name the columns; it reads: %(header)s")
            % {"columns": ", ".join(missing), "header": preview}
        )
    return Columns(positions, headers, ignored)


# --- The table ---------------------------------------------------------------------------------------------------


@dataclass
class Table:
    header: list[str]
    # (row number, cells), the header being row 1 when the file starts with it; the cells are those of the
    # columns read, in the order of Columns.positions
    rows: list[tuple[int, list]]


def read_table(
    *,
    name: str,
    data: bytes,
    columns: dict[str, tuple[str, ...]],
    required: dict[str, str],
    on_progress: Callable[[], None] | None = None,
) -> tuple[Table, Columns]:
    """The file's header row, mapped to `columns` (field -> the header names it is known by), and its data rows
    with the cells of those columns only. `on_progress` is called as reading goes (often: it should be cheap).
    Raises ImportFileError."""
    check_time = _deadline(on_progress)
    extension = import_file_check(name=name, size=len(data))
    if extension == ".xlsx":
        rows = xlsx_rows(data, max_columns=MAX_COLUMNS, check_time=check_time)
    else:
        rows = _csv_rows(data, max_columns=MAX_COLUMNS)
    header, mapped, body, chars = None, None, [], 0
    for number, cells in _bounded_rows(rows, check_time):
        if header is None:
            header = [str(_clean(cell)) for cell in cells]
            mapped = _map_columns(header, columns, required)
            indexes = list(mapped.positions.values())
            mapped.positions = {field: at for at, field in enumerate(mapped.positions)}
            continue
        if len(body) == MAX_ROWS:
            raise ImportFileError(
                _("The file has more than %(limit)s rows: split it into smaller files.") % {"limit": f"{MAX_ROWS:,}"}
            )
        kept = [_clean(cells[index]) if index < len(cells) else "" for index in indexes]
        chars += sum(len(cell) for cell in kept if isinstance(cell, str))
        if chars > MAX_TABLE_CHARS:
            raise ImportFileError(
                _("The columns imported hold more than %(limit)s characters: split the file into smaller files.")
                % {"limit": f"{MAX_TABLE_CHARS:,}"}
            )
        body.append((number, kept))
    if header is None:
        raise ImportFileError(_("The file is empty."))
    if not body:
        raise ImportFileError(_("The file has a header row but no rows below it."))
    return Table(header=header, rows=body), mapped
