"""Import files are read within bounds (members.imports.files, members.imports.xlsx): a file that would make a
worker, which every shop shares, spend much more memory or time than its size says is refused with a clear
message, and nothing of it is imported. The bombs are built here, streamed, so that the test never holds them."""

import io
import itertools
import random
import tracemalloc
import zipfile

import openpyxl
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import translation

from members.errors import ImportFileError
from members.imports.engine import import_create, import_process
from members.models import ImportJob, ImportKind, ImportStatus, Member
from orders.models import Order
from shops.models import AuditLogEntry, Shop
from shops.services import SYSTEM
from tests.members.test_imports import xlsx_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.members.test_imports")]

HEADERS = {ImportKind.MEMBERS: ["手机号"], ImportKind.ORDERS: ["订单号", "金额", "支付时间"]}
DATA = {ImportKind.MEMBERS: ["13800138000"], ImportKind.ORDERS: ["T1", "10.00", "2024-05-01 10:00:00"]}
RATIO_REFUSED = (
    "The workbook is compressed more than 100 times, which spreadsheets never are: save it again from Excel as "
    ".xlsx, or as CSV."
)
NOT_AS_EXCEL = (
    "The workbook is not built as spreadsheet programs build them: save it again from Excel as .xlsx, or as CSV."
)
ROWS_READ_REFUSED = (
    "The file has more than 250,000 rows, counting empty ones: delete the empty rows below the data, or split the file."
)


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def shop(shop):
    """Reasons are written in the shop's language: English here, so the tests read the msgids."""
    Shop.objects.filter(pk=shop.pk).update(locale="en")
    shop.refresh_from_db()
    return shop


def xlsx_with(parts: dict) -> bytes:
    """A workbook written by openpyxl with some parts replaced or added: bytes, or an iterable of blocks that is
    compressed as it comes."""
    base = zipfile.ZipFile(io.BytesIO(xlsx_bytes([HEADERS[ImportKind.MEMBERS], DATA[ImportKind.MEMBERS]])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in base.namelist():
            if name not in parts:
                archive.writestr(name, base.read(name))
        for name, content in parts.items():
            with archive.open(name, "w") as part:
                for block in [content] if isinstance(content, bytes) else content:
                    part.write(block)
    return buffer.getvalue()


SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = b"</sheetData></worksheet>"


def row(number: int, *values: str) -> bytes:
    cells = "".join(
        f'<c r="{openpyxl.utils.get_column_letter(column)}{number}" t="inlineStr"><is><t>{value}</t></is></c>'
        for column, value in enumerate(values, start=1)
    )
    return f'<row r="{number}">{cells}</row>'.encode()


def sheet(*rows: bytes, head: bytes = SHEET_HEAD, tail: bytes = SHEET_TAIL) -> bytes:
    return head + b"".join(rows) + tail


def shared_strings(*texts: str) -> dict:
    """The parts that give a workbook these shared strings, which cells name by their index (t="s")."""
    base = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["x"]])))
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    types = base.read("[Content_Types].xml").replace(
        b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{kind}"/></Types>'.encode()
    )
    strings = "".join(f"<si><t>{text}</t></si>" for text in texts)
    table = f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{strings}</sst>'
    return {"[Content_Types].xml": types, "xl/sharedStrings.xml": table.encode()}


def members_sheet(*extra: bytes) -> dict:
    return {"xl/worksheets/sheet1.xml": sheet(row(1, "手机号"), row(2, "13800138000"), *extra)}


def letters(count: int) -> str:
    """Text that compresses as little as real text: a ratio check does not refuse it first."""
    return "".join(random.Random(count).choices("abcdefghijklmnopqrstuvwxyz", k=count))


def run_import(shop: Shop, kind: str, data: bytes, name: str) -> ImportJob:
    job = import_create(shop=shop, kind=kind, upload=ContentFile(data, name=name), actor=SYSTEM, dispatch=False)
    return import_process(shop=shop, job_id=job.pk)


def assert_failed_and_nothing_imported(job: ImportJob, message: str) -> None:
    assert (job.status, job.message) == (ImportStatus.FAILED, message)
    assert (job.total_rows, job.processed_rows, job.created_rows, job.errors) == (0, 0, 0, [])
    assert Member.objects.count() == 0 and Order.objects.count() == 0


def zip_bomb() -> bytes:
    """A workbook of about 100 KB whose sheet unpacks to 64 MB: one cell of a 64 MB phone number."""
    blocks = itertools.chain(
        [SHEET_HEAD, row(1, "手机号"), b'<row r="2"><c r="A2" t="inlineStr"><is><t>'],
        itertools.repeat(b"1" * 1024 * 1024, 64),
        [b"</t></is></c></row>", SHEET_TAIL],
    )
    return xlsx_with({"xl/worksheets/sheet1.xml": blocks})


# --- The zip directory: refused at the upload, before anything unpacks ------------------------------------------------


def test_a_zip_bomb_is_refused_from_its_zip_directory_before_openpyxl_unpacks_anything(shop, monkeypatch):
    # given: a workbook that unpacks to 600 times its size
    bomb = zip_bomb()
    declared = sum(part.file_size for part in zipfile.ZipFile(io.BytesIO(bomb)).infolist())
    assert len(bomb) < 200 * 1024 and declared > 64 * 1024 * 1024
    opened = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *args, **kwargs: opened.append(args))
    # when
    tracemalloc.start()
    try:
        with pytest.raises(ImportFileError) as caught:
            import_create(shop=shop, kind=ImportKind.MEMBERS, upload=ContentFile(bomb, name="m.xlsx"), actor=SYSTEM)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # then: refused from the directory alone, without unpacking the sheet
    assert str(caught.value.message) == RATIO_REFUSED
    assert opened == []
    assert peak < 2 * 1024 * 1024
    assert ImportJob.objects.count() == 0 and AuditLogEntry.objects.filter(action="import.create").count() == 0
    assert Member.objects.count() == 0


def test_a_worker_refuses_a_zip_bomb_too_before_openpyxl_unpacks_anything(shop, monkeypatch):
    """A file stored before uploads were checked reaches the worker: it checks the directory again."""
    from members.imports.files import read_table  # here: the module came with these bounds
    from members.imports.members_kind import MEMBER_IMPORT

    bomb = zip_bomb()
    opened = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *args, **kwargs: opened.append(args))
    tracemalloc.start()
    try:
        with pytest.raises(ImportFileError) as caught:
            read_table(name="m.xlsx", data=bomb, columns=MEMBER_IMPORT.columns, required=MEMBER_IMPORT.required)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(caught.value.message) == RATIO_REFUSED
    assert opened == [] and peak < 2 * 1024 * 1024


def test_a_workbook_that_unpacks_to_more_than_the_limit_is_refused_at_the_upload(shop, monkeypatch):
    monkeypatch.setattr("members.imports.xlsx.MAX_XLSX_UNPACKED_BYTES", 1024 * 1024)
    picture = random.Random(1).randbytes(1024 * 1024)  # barely compressible: only the total is over
    workbook = xlsx_with({"xl/media/image1.png": picture})
    with pytest.raises(ImportFileError) as caught:
        import_create(shop=shop, kind=ImportKind.MEMBERS, upload=ContentFile(workbook, name="m.xlsx"), actor=SYSTEM)
    assert str(caught.value.message) == (
        "The workbook unpacks to more than 1 MB: split it into smaller files, or save it as CSV."
    )
    assert ImportJob.objects.count() == 0


def test_the_upload_form_refuses_a_zip_bomb_with_a_translated_message_and_stores_nothing(owner_client, shop):
    owner_client.cookies["django_language"] = "zh-hans"
    response = owner_client.post(
        reverse("dashboard:imports", args=[shop.slug]),
        {"kind": "orders", "file": ContentFile(zip_bomb(), name="订单.xlsx")},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "file": ["该工作簿的压缩比超过 100 倍，正常的电子表格不会如此，请在 Excel 中重新另存为 .xlsx 或 CSV 格式。"]
    }
    assert ImportJob.objects.count() == 0 and Order.objects.count() == 0


# --- The XML: streamed and refused before openpyxl builds it ----------------------------------------------------------

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {name} "{("&" + previous + ";") * 10}">'.encode()
        for previous, name in zip("abcdefg", "bcdefgh", strict=True)
    )
    + b"]>"
    + SHEET_HEAD[len(b'<?xml version="1.0" encoding="UTF-8"?>') :]
)


@pytest.mark.parametrize(
    "parts",
    [
        # entities that expand 100 bytes to a gigabyte
        {"xl/worksheets/sheet1.xml": sheet(row(1, "手机号"), row(2, "&h;"), head=BILLION_LAUGHS)},
        # one row of 60,000 cells: openpyxl builds all of them before it keeps the first 200
        members_sheet(b'<row r="3">' + b"<c><v>1</v></c>" * 60_000 + b"</row>"),
        # 300,000 elements outside the rows, which openpyxl keeps
        {
            "xl/worksheets/sheet1.xml": sheet(row(1, "手机号"), row(2, "13800138000"), tail=b"</sheetData>")
            + b"".join(f'<x n="{n}"/>'.encode() for n in range(300_000))
            + b"</worksheet>"
        },
        # elements nested 100 deep
        members_sheet(b'<row r="3"><c r="A3">' + b"<x>" * 100 + b"</x>" * 100 + b"</c></row>"),
        # 2 MB of text in one cell
        members_sheet(row(3, letters(2 * 1024 * 1024))),
    ],
    ids=["entities", "wide-row", "elements", "depth", "long-text"],
)
def test_a_workbook_whose_xml_would_grow_in_memory_is_refused_and_nothing_is_imported(shop, parts):
    tracemalloc.start()
    try:
        job = run_import(shop, ImportKind.MEMBERS, xlsx_with(parts), name="m.xlsx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_failed_and_nothing_imported(job, NOT_AS_EXCEL)
    assert peak < 32 * 1024 * 1024  # the workbook and its parts held whole, no more


def test_a_workbook_with_too_many_shared_strings_is_refused(shop, monkeypatch):
    monkeypatch.setattr("members.imports.xlsx.MAX_SHARED_STRINGS", 10)
    parts = {**shared_strings(*(str(n) for n in range(11))), **members_sheet()}
    job = run_import(shop, ImportKind.MEMBERS, xlsx_with(parts), name="m.xlsx")
    assert_failed_and_nothing_imported(
        job, "The workbook holds more than 10 different texts: split it into smaller files."
    )


# --- Rows, columns, cells and time ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ImportKind.MEMBERS, ImportKind.ORDERS])
def test_blank_rows_count_against_the_rows_read_in_a_tiny_workbook(shop, kind):
    # given: 2 KB whose last row is numbered 300,000, so that openpyxl yields 299,997 blank rows before it
    parts = {"xl/worksheets/sheet1.xml": sheet(row(1, *HEADERS[kind]), row(2, *DATA[kind]), row(300_000, "x"))}
    workbook = xlsx_with(parts)
    assert len(workbook) < 10 * 1024
    # when
    job = run_import(shop, kind, workbook, name="file.xlsx")
    # then
    assert_failed_and_nothing_imported(job, ROWS_READ_REFUSED)


@pytest.mark.parametrize("kind", [ImportKind.MEMBERS, ImportKind.ORDERS])
def test_blank_lines_count_against_the_rows_read_in_a_csv_file(shop, kind):
    text = ",".join(HEADERS[kind]) + "\r\n" + ",".join(DATA[kind]) + "\r\n" + "\r\n" * 250_000
    job = run_import(shop, kind, text.encode(), name="file.csv")
    assert_failed_and_nothing_imported(job, ROWS_READ_REFUSED)


def test_the_refusal_is_written_in_the_shops_language(shop):
    Shop.objects.filter(pk=shop.pk).update(locale="zh-hans")
    shop.refresh_from_db()
    job = run_import(shop, ImportKind.MEMBERS, ("手机号\n13800138000\n" + "\n" * 250_000).encode(), name="m.csv")
    assert_failed_and_nothing_imported(job, "文件超过 250,000 行（含空行），请删除数据下方的空行，或拆分文件。")


@pytest.mark.parametrize(
    "text",
    ["手机号\n13800138000" + "," * 150_000 + "\n", "手机号," + "x" * 150_000],
    ids=["many-cells", "one-line-file"],
)
def test_a_csv_row_longer_than_the_limit_is_refused_before_it_becomes_cells(shop, text):
    job = run_import(shop, ImportKind.MEMBERS, text.encode(), name="m.csv")
    assert_failed_and_nothing_imported(
        job, "A row of the file is longer than 100,000 characters: is it really a CSV file?"
    )


def test_only_the_first_200_columns_are_read(shop):
    header = ["手机号", *(f"c{n}" for n in range(2, 250)), "姓名"]
    data = ["13800138000", *([""] * 248), "张三"]
    job = run_import(shop, ImportKind.MEMBERS, "\n".join(",".join(r) for r in (header, data)).encode(), "m.csv")
    assert (job.status, job.created_rows) == (ImportStatus.DONE, 1)
    assert list(Member.objects.values_list("phone", "name")) == [("+8613800138000", "")]
    assert job.message.startswith("Columns not imported: c2, c3, ") and job.message.endswith(", c200.")


def test_a_cell_longer_than_excel_allows_is_refused(shop):
    job = run_import(shop, ImportKind.MEMBERS, xlsx_with(members_sheet(row(3, letters(40_000)))), name="m.xlsx")
    assert_failed_and_nothing_imported(job, "A cell of the file is longer than 32,767 characters.")


def test_a_shared_string_repeated_in_every_row_counts_once_per_row(shop):
    # given: 2,000 rows that name one shared string of 30,000 characters: 60 million characters to keep
    rows = (
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>138{n:08d}</t></is></c><c r="B{n}" t="s"><v>0</v></c></row>'
        for n in range(2, 2_002)
    )
    parts = {
        **shared_strings(letters(30_000)),
        "xl/worksheets/sheet1.xml": sheet(row(1, "手机号", "姓名"), *(r.encode() for r in rows)),
    }
    workbook = xlsx_with(parts)
    assert len(workbook) < 100 * 1024
    # when
    job = run_import(shop, ImportKind.MEMBERS, workbook, name="m.xlsx")
    # then
    assert_failed_and_nothing_imported(
        job, "The columns imported hold more than 50,000,000 characters: split the file into smaller files."
    )


@pytest.mark.parametrize("name", ["m.csv", "m.xlsx"])
def test_reading_is_stopped_once_it_has_cost_the_time_limit(shop, monkeypatch, name):
    # given: a clock on which each look costs a minute of processing
    monkeypatch.setattr("members.imports.files.thread_time", itertools.count(0, 60).__next__)
    rows = [["手机号"], *([f"138{n:08d}"] for n in range(10))]
    data = xlsx_bytes(rows) if name.endswith("xlsx") else "\n".join(r[0] for r in rows).encode()
    # when
    job = run_import(shop, ImportKind.MEMBERS, data, name=name)
    # then
    assert_failed_and_nothing_imported(
        job, "Reading the file took more than 180 seconds of processing: split it into smaller files."
    )


def test_a_workbook_within_the_bounds_is_checked_and_imported_through_the_form(
    owner_client, shop, django_capture_on_commit_callbacks
):
    """The control: the checks read the upload's zip directory and leave the file whole for the import."""
    rows = [["手机号", "姓名"], *([f"138{n:08d}", f"会员{n}"] for n in range(50)), *([None, None] for _ in range(500))]
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("dashboard:imports", args=[shop.slug]),
            {"kind": "members", "file": ContentFile(xlsx_bytes(rows), name="会员.xlsx")},
        )
    assert response.status_code == 302
    job = ImportJob.objects.get(shop=shop)
    assert (job.status, job.total_rows, job.created_rows, job.message) == (ImportStatus.DONE, 50, 50, "")
    assert Member.objects.filter(shop=shop, name="会员49").count() == 1
