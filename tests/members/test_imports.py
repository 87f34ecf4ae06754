"""Member and order imports: encodings and formats, the row-by-row report, duplicates and replays, file-level
failures that change nothing, chunked and resumable processing, the dashboard page, the task and the commands."""

import csv
import datetime
import io
import zipfile
import zoneinfo
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.urls import include, path, reverse
from django.utils import timezone, translation

from config import urls as project_urls
from members import import_urls
from members.errors import ImportFileError
from members.imports import engine, files, members_kind
from members.imports.engine import import_create, import_process
from members.imports.files import Columns
from members.imports.kind import Row, RowError, row_phone
from members.models import ImportJob, ImportKind, ImportStatus, Member
from members.phones import InvalidPhone, normalize_phone
from members.services import Enrolment, member_enroll
from members.tasks import import_run
from orders.models import Order, OrderItem
from orders.services import OrderInput, order_record
from shops.extensions import IMPORT_HANDLER
from shops.models import AuditLogEntry, Shop
from shops.registry import registry
from shops.roles import Role
from shops.services import SYSTEM
from tests.factories import add_staff
from tests.isolation_cases import CASES
from tests.routes import tenant_routes

# The project's URLs with this feature's pages, whether or not config/urls.py includes them yet.
urlpatterns = [
    path(
        "dashboard/",
        include(
            (
                [*project_urls.dashboard_patterns, path("<slug:shop_slug>/", include(import_urls.dashboard_patterns))],
                "dashboard",
            )
        ),
    ),
    *project_urls.urlpatterns,
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _english(settings):
    """These tests read messages in English; the product's default language is zh-Hans."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def shop(shop):
    """Reasons are written in the shop's language: English here, so the tests read the msgids."""
    Shop.objects.filter(pk=shop.pk).update(locale="en")
    shop.refresh_from_db()
    return shop


def csv_bytes(rows: list[list], encoding: str = "utf-8") -> bytes:
    """As Excel writes CSV: quoted where needed, CRLF line ends."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bytes(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def run_import(shop: Shop, kind: str, data: bytes, name: str = "file.csv") -> ImportJob:
    job = import_create(shop=shop, kind=kind, upload=ContentFile(data, name=name), actor=SYSTEM, dispatch=False)
    return import_process(shop=shop, job_id=job.pk)


def counters(job: ImportJob) -> tuple:
    return job.status, job.total_rows, job.processed_rows, job.created_rows, job.duplicate_rows, job.error_rows


def members_of(shop: Shop) -> list[tuple]:
    return list(
        Member.objects.filter(shop=shop)
        .order_by("phone")
        .values_list("phone", "name", "gender", "birthday_month", "birthday_day", "birth_year", "region", "email")
    )


MEMBER_ROWS = [
    ["手机号", "姓名", "性别", "生日", "地区", "邮箱", "外部ID"],
    ["13800138000", "张三", "男", "1990-05-20", "广东省 深圳市", "zhang@example.com", "tb-1"],
    ["+86 139-0013-9000", "李四", "女", "02-29", "", "", ""],
    ["8613700137000", "王五", "", "", "北京", "", ""],
]
EXPECTED_MEMBERS = [
    ("+8613700137000", "王五", "unknown", None, None, None, "北京", ""),
    ("+8613800138000", "张三", "male", 5, 20, 1990, "广东省 深圳市", "zhang@example.com"),
    ("+8613900139000", "李四", "female", 2, 29, None, "", ""),
]


# --- Members -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_member_csv_in_utf8_with_or_without_bom_and_in_gbk_imports_the_same_members(shop, other_shop, encoding):
    job = run_import(shop, ImportKind.MEMBERS, csv_bytes(MEMBER_ROWS, encoding))
    assert counters(job) == (ImportStatus.DONE, 3, 3, 3, 0, 0)
    assert job.errors == [] and job.message == "" and job.finished_at is not None
    assert members_of(shop) == EXPECTED_MEMBERS
    assert set(Member.objects.filter(shop=shop).values_list("join_channel", "external_id")) == {
        ("import", "tb-1"),
        ("import", ""),
    }
    assert Member.objects.filter(shop=other_shop).count() == 0


def test_member_xlsx_with_number_and_date_cells_imports(shop):
    rows = [
        ["Phone", "Name", "Gender", "Birthday", "Email"],
        [13800138000, "Zhang San", "male", datetime.datetime(1990, 5, 20), "zhang@example.com"],
        ["13900139000", "李四", "F", "1985/12/01", None],
        [None, None, None, None, None],  # spreadsheets keep empty rows: skipped, not errors
    ]
    job = run_import(shop, ImportKind.MEMBERS, xlsx_bytes(rows), name="members.XLSX")
    assert counters(job) == (ImportStatus.DONE, 2, 2, 2, 0, 0)
    assert members_of(shop) == [
        ("+8613800138000", "Zhang San", "male", 5, 20, 1990, "", "zhang@example.com"),
        ("+8613900139000", "李四", "female", 12, 1, 1985, "", ""),
    ]


def test_bad_member_rows_are_named_with_their_row_and_reason_and_good_rows_are_kept(shop):
    rows = [
        ["手机号", "姓名", "性别", "生日", "邮箱"],
        ["13800138000", "好", "男", "", ""],  # row 2: good
        ["", "没有手机", "", "", ""],  # row 3
        ["12345", "坏号码", "", "", ""],  # row 4
        ["13900139000", "性别", "其他", "", ""],  # row 5
        ["13700137000", "生日", "", "1990-02-30", ""],  # row 6
        ["13600136000", "未来", "", "2999-01-01", ""],  # row 7
        ["15000150000", "邮箱", "", "", "not-an-email"],  # row 8
        ["138 0013 8000", "重复", "", "", ""],  # row 9: the phone of row 2
        ["18612345678", "长" * 51, "", "", ""],  # row 10
        ["18612345679", "也好", "女", "12-31", ""],  # row 11: good
    ]
    job = run_import(shop, ImportKind.MEMBERS, csv_bytes(rows))
    assert counters(job) == (ImportStatus.DONE, 10, 10, 2, 0, 8)
    assert job.errors == [
        {"row": 3, "reason": "手机号 is empty."},
        {"row": 4, "reason": "Not a valid phone number: 12345"},
        {"row": 5, "reason": "Unknown gender: 其他 (use 男/女 or male/female)"},
        {"row": 6, "reason": "Not a valid birthday: 1990-02-30 (use YYYY-MM-DD or MM-DD)"},
        {"row": 7, "reason": "生日 is in the future: 2999-01-01"},
        {"row": 8, "reason": "Not a valid email address: not-an-email"},
        {"row": 9, "reason": "Duplicate within the file: same phone as row 2."},
        {"row": 10, "reason": "姓名 is longer than 50 characters."},
    ]
    assert [name for _phone, name, *_rest in members_of(shop)] == ["好", "也好"]


@pytest.mark.parametrize("make", [csv_bytes, xlsx_bytes], ids=["csv", "xlsx"])
def test_member_rows_with_control_or_text_direction_characters_are_named_and_good_rows_kept(shop, make):
    rows = [
        ["手机号", "姓名", "地区", "外部ID"],
        ["13800138000", "好", "", ""],  # row 2: good
        ["13900139000", "李\u202e雷", "", ""],  # row 3
        ["13700137000", "韩梅梅", "上海\u2067", ""],  # row 4
        ["13600136000", "王五", "", "tb-\u200b1"],  # row 5
        ["18612345679", "👨\u200d👩\u200d👧 张三", "", ""],  # row 6: good, an emoji with joiners
    ]
    if make is csv_bytes:  # XLSX cannot hold C0 controls at all
        rows.append(["15000150000", "\x1b[31m红", "", ""])  # row 7

    job = run_import(shop, ImportKind.MEMBERS, make(rows), name="file.csv" if make is csv_bytes else "file.xlsx")

    errors = [
        {
            "row": 3,
            "reason": "姓名 holds the invisible character U+202E: control and text-direction characters are "
            "not allowed.",
        },
        {
            "row": 4,
            "reason": "地区 holds the invisible character U+2067: control and text-direction characters are "
            "not allowed.",
        },
        {
            "row": 5,
            "reason": "外部ID holds the invisible character U+200B: control and text-direction characters are "
            "not allowed.",
        },
    ]
    if make is csv_bytes:
        errors.append(
            {
                "row": 7,
                "reason": "姓名 holds the invisible character U+001B: control and text-direction "
                "characters are not allowed.",
            }
        )
    assert job.errors == errors
    assert counters(job)[3:] == (2, 0, len(errors))
    assert [name for _phone, name, *_rest in members_of(shop)] == ["好", "👨\u200d👩\u200d👧 张三"]


def test_existing_members_count_as_duplicates_and_are_left_unchanged(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="老会员", channel="api"))
    before = Member.objects.filter(pk=member.pk).values().get()
    job = run_import(shop, ImportKind.MEMBERS, csv_bytes(MEMBER_ROWS))
    assert counters(job) == (ImportStatus.DONE, 3, 3, 2, 1, 0)
    assert job.errors == []
    assert Member.objects.filter(pk=member.pk).values().get() == before


def test_a_platform_buyer_id_of_another_member_is_a_row_error(shop):
    member_enroll(shop=shop, data=Enrolment(phone="13700137000", external_id="tb-1"))
    rows = [["phone", "external_id"], ["13800138000", "tb-1"], ["13900139000", "tb-2"], ["13600136000", "tb-2"]]
    job = run_import(shop, ImportKind.MEMBERS, csv_bytes(rows))
    assert counters(job) == (ImportStatus.DONE, 3, 3, 1, 0, 2)
    assert job.errors == [
        {"row": 2, "reason": "Another member already has the platform buyer id tb-1."},
        {"row": 4, "reason": "Duplicate within the file: same external_id as row 3."},
    ]
    assert Member.objects.get(shop=shop, external_id="tb-2").phone == "+8613900139000"


def test_importing_the_same_member_file_twice_creates_nothing_the_second_time(shop):
    first = run_import(shop, ImportKind.MEMBERS, csv_bytes(MEMBER_ROWS))
    snapshot = list(Member.objects.filter(shop=shop).order_by("pk").values())
    second = run_import(shop, ImportKind.MEMBERS, csv_bytes(MEMBER_ROWS))
    assert counters(first) == (ImportStatus.DONE, 3, 3, 3, 0, 0)
    assert counters(second) == (ImportStatus.DONE, 3, 3, 0, 3, 0)
    assert list(Member.objects.filter(shop=shop).order_by("pk").values()) == snapshot


def test_unknown_columns_are_named_in_the_job_message(shop):
    rows = [["手机号", "标签", "备注"], ["13800138000", "VIP", "x"]]
    job = run_import(shop, ImportKind.MEMBERS, csv_bytes(rows))
    assert counters(job) == (ImportStatus.DONE, 1, 1, 1, 0, 0)
    assert job.message == "Columns not imported: 标签, 备注."


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+8613800138000",
        "8613800138000",
        "+86 138-0013-8000",
        "86 138 0013 8000",
        "198 1234 5678",
        "10012345678",
        "12012345678",
        "14000000000",
        "17000000000",
        "19912345678",
        "1380013800",
        "138001380001",
        "+85261234567",
        "02112345678",
    ],
)
def test_the_mobile_fast_path_reads_every_phone_as_normalize_phone_does(raw):
    try:
        expected = normalize_phone(raw)
    except InvalidPhone:
        expected = None
    try:
        got = row_phone(Row(2, [raw], Columns({"phone": 0}, {"phone": "phone"}, [])))
    except RowError:
        got = None
    assert got == expected


def test_members_enrolled_by_someone_else_between_the_check_and_the_insert_are_duplicates(shop, monkeypatch):
    # given: while the import inserts, another writer enrols one of its phones and takes one of its buyer ids
    insert = members_kind._insert_members

    def concurrently(**kwargs):
        member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="抢先"))
        member_enroll(shop=shop, data=Enrolment(phone="13600136000", external_id="tb-9"))
        return insert(**kwargs)

    monkeypatch.setattr(members_kind, "_insert_members", concurrently)
    rows = [["手机号", "外部ID"], ["13800138000", ""], ["13900139000", "tb-9"], ["13700137000", ""]]
    # when
    job = run_import(shop, ImportKind.MEMBERS, csv_bytes(rows))
    # then
    assert counters(job) == (ImportStatus.DONE, 3, 3, 1, 1, 1)
    assert job.errors == [{"row": 3, "reason": "Another member already has the platform buyer id tb-9."}]
    assert Member.objects.get(shop=shop, phone="+8613800138000").name == "抢先"
    assert Member.objects.filter(shop=shop, phone="+8613900139000").count() == 0


# --- File-level problems: the whole job fails and nothing is written ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "binary.csv",
            bytes(range(128, 256)) * 4,
            "The file is not UTF-8 or GBK text: save it as CSV (UTF-8) or XLSX.",
        ),
        (
            "utf16.csv",
            "手机号\n13800138000\n".encode("utf-16"),
            "The file is not UTF-8 or GBK text: save it as CSV (UTF-8) or XLSX.",
        ),
        ("blank.csv", b"\n\n,,\n", "The file is empty."),
        ("header-only.csv", "手机号,姓名\n".encode(), "The file has a header row but no rows below it."),
        (
            "headerless.csv",
            "13800138000,张三\n13900139000,李四\n".encode(),
            "Required columns are missing: 手机号/phone. The first row must name the columns; it reads: "
            "13800138000, 张三",
        ),
        (
            "twice.csv",
            "手机号,phone\n13800138000,13800138000\n".encode(),
            "Two columns mean the same thing: 手机号 and phone. Keep one.",
        ),
        (
            "fake.xlsx",
            zip_bytes({"hello.txt": b"not really a workbook"}),
            "The file is not a readable XLSX workbook: save it again from Excel as .xlsx, or as CSV.",
        ),
    ],
    ids=["undecodable", "utf16", "empty", "header-only", "headerless", "two-columns", "broken-xlsx"],
)
def test_a_file_level_problem_fails_the_whole_job_and_stores_nothing(shop, name, data, message):
    job = run_import(shop, ImportKind.MEMBERS, data, name=name)
    assert counters(job) == (ImportStatus.FAILED, 0, 0, 0, 0, 0)
    assert job.message == message
    assert job.errors == [] and job.finished_at is not None
    assert Member.objects.filter(shop=shop).count() == 0


def test_a_file_over_the_row_limit_fails_whole_before_any_row_is_written(shop, monkeypatch):
    monkeypatch.setattr(files, "MAX_ROWS", 2)
    job = run_import(shop, ImportKind.MEMBERS, csv_bytes(MEMBER_ROWS))
    assert counters(job) == (ImportStatus.FAILED, 0, 0, 0, 0, 0)
    assert job.message == "The file has more than 2 rows: split it into smaller files."
    assert Member.objects.filter(shop=shop).count() == 0


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [
        ("members.xls", 10, "Old Excel files (.xls) cannot be read: save the file as .xlsx or CSV."),
        ("members.pdf", 10, "Upload a CSV or XLSX file."),
        ("members.csv", 21 * 1024 * 1024, "The file is larger than 20 MB: split it into smaller files."),
        ("members.csv", 0, "The file is empty."),
        ("members.xlsx", 10, "The file is not a readable XLSX workbook: save it again from Excel as .xlsx, or as CSV."),
    ],
)
def test_a_wrong_type_or_oversize_upload_is_refused_and_nothing_is_stored(shop, name, size, message):
    upload = ContentFile(b"x" * size, name=name)
    with pytest.raises(ImportFileError) as caught:
        import_create(shop=shop, kind=ImportKind.MEMBERS, upload=upload, actor=SYSTEM)
    assert str(caught.value.message) == message
    assert ImportJob.objects.count() == 0
    assert AuditLogEntry.objects.filter(action="import.create").count() == 0


def test_a_kind_without_a_handler_is_refused_and_nothing_is_stored(shop):
    with registry.overridden(IMPORT_HANDLER, []):  # no app registered the orders kind
        for kind in (ImportKind.ORDERS, "coupons"):
            with pytest.raises(ImportFileError) as caught:
                import_create(shop=shop, kind=kind, upload=ContentFile(b"x", name="o.csv"), actor=SYSTEM)
            assert str(caught.value.message) == "Choose what the file holds: members or orders."
    assert ImportJob.objects.count() == 0


# --- Orders ---------------------------------------------------------------------------------------------------------


def _shanghai(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def test_orders_with_item_rows_are_grouped_per_order_and_linked_to_members(shop, other_shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    buyer, _ = member_enroll(shop=shop, data=Enrolment(phone="13900139000"))
    rows = [
        ["订单号", "手机号", "会员ID", "金额", "支付时间", "状态", "商品编码", "商品名称", "类目", "数量", "单价"],
        ["T1", "13800138000", "", "268.00", "2025-11-11 10:15:00", "已完成", "MB-1", "湿巾", "母婴", "2", "100"],
        ["T2", "", buyer.pk, "￥1,000.5", "2025/11/12 09:00", "", "", "", "", "", ""],
        ["T1", "13800138000", "", "268.00", "2025-11-11 10:15:00", "已完成", "MB-2", "奶瓶", "母婴", "", "68"],
        ["T3", "", "", "50", "2025-11-13", "paid", "X-1", "", "", "1", "50"],
    ]
    job = run_import(shop, ImportKind.ORDERS, csv_bytes(rows, "gbk"))
    assert counters(job) == (ImportStatus.DONE, 4, 4, 4, 0, 0)
    orders = {o.external_id: o for o in Order.objects.filter(shop=shop)}
    assert {ext: (o.member_id, o.amount, o.paid_at, o.status) for ext, o in orders.items()} == {
        "T1": (member.pk, Decimal("268.00"), _shanghai(2025, 11, 11, 10, 15), "completed"),
        "T2": (buyer.pk, Decimal("1000.50"), _shanghai(2025, 11, 12, 9, 0), "paid"),
        "T3": (None, Decimal("50.00"), _shanghai(2025, 11, 13), "paid"),
    }
    items = OrderItem.objects.filter(shop=shop).order_by("order__external_id", "sku")
    assert [(i.order.external_id, i.sku, i.name, i.category, i.quantity, i.unit_price) for i in items] == [
        ("T1", "MB-1", "湿巾", "母婴", 2, Decimal("100.00")),
        ("T1", "MB-2", "奶瓶", "母婴", 1, Decimal("68.00")),
        ("T3", "X-1", "", "", 1, Decimal("50.00")),
    ]
    member.refresh_from_db()
    assert (member.order_count, member.lifetime_spend) == (1, Decimal("268.00"))
    assert Order.objects.filter(shop=other_shop).count() == 0


def test_bad_order_rows_are_named_and_good_orders_are_kept(shop):
    member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    order_record(
        shop=shop,
        data=OrderInput(external_id="OLD", amount=Decimal("10.00"), paid_at=_shanghai(2025, 1, 1, 8, 0)),
    )
    future = (timezone.now() + datetime.timedelta(days=2)).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    rows = [
        ["order_id", "phone", "member_id", "amount", "paid_at", "status"],
        ["G1", "13800138000", "", "99.90", "2025-06-01 12:00:00", ""],  # row 2: good
        ["", "", "", "10", "2025-06-01", ""],  # row 3
        ["B1", "", "", "", "2025-06-01", ""],  # row 4
        ["B2", "", "", "-5", "2025-06-01", ""],  # row 5
        ["B3", "", "", "1.234", "2025-06-01", ""],  # row 6
        ["B4", "", "", "abc", "2025-06-01", ""],  # row 7
        ["B5", "", "", "10", "2025-13-01", ""],  # row 8
        ["B6", "", "", "10", future, ""],  # row 9
        ["B7", "", "", "10", "2025-06-01", "refunded"],  # row 10
        ["B8", "12345", "", "10", "2025-06-01", ""],  # row 11
        ["B9", "13800138000", "7", "10", "2025-06-01", ""],  # row 12
        ["B10", "", "999999", "10", "2025-06-01", ""],  # row 13
        ["OLD", "", "", "20.00", "2025-01-01 08:00:00", ""],  # row 14: conflicts with the recorded order
        ["G1", "13800138000", "", "99.90", "2025-06-01 12:00:00", ""],  # row 15: repeats row 2
        ["G2", "", "", "0", "2025-06-02", "cancelled"],  # row 16: good
        ["B11", "", "", "10", "0273-06-03 10:00:00", ""],  # row 17
    ]
    job = run_import(shop, ImportKind.ORDERS, csv_bytes(rows))
    assert counters(job) == (ImportStatus.DONE, 16, 16, 2, 0, 14)
    assert job.errors == [
        {"row": 3, "reason": "order_id is empty."},
        {"row": 4, "reason": "amount is empty."},
        {"row": 5, "reason": "Not a valid amount in amount: -5"},
        {"row": 6, "reason": "Not a valid amount in amount: 1.234"},
        {"row": 7, "reason": "Not a valid amount in amount: abc"},
        {"row": 8, "reason": "Not a valid time in paid_at: 2025-13-01 (use YYYY-MM-DD HH:MM:SS)"},
        {"row": 9, "reason": f"paid_at is in the future: {future}"},
        {
            "row": 10,
            "reason": "Unknown order status: refunded (use paid, completed or cancelled; record refunds separately)",
        },
        {"row": 11, "reason": "Not a valid phone number: 12345"},
        {"row": 12, "reason": "Give a phone or a member id, not both."},
        {"row": 13, "reason": "No member with id 999999 in your shop."},
        {"row": 14, "reason": "Order OLD was already recorded with different content."},
        {"row": 15, "reason": "Duplicate within the file: order G1 is also on row 2."},
        {"row": 17, "reason": "Not a valid time in paid_at: 0273-06-03 10:00:00 (use YYYY-MM-DD HH:MM:SS)"},
    ]
    assert set(Order.objects.filter(shop=shop).values_list("external_id", "amount")) == {
        ("OLD", Decimal("10.00")),
        ("G1", Decimal("99.90")),
        ("G2", Decimal("0.00")),
    }


def test_a_bad_item_row_keeps_its_whole_order_out_and_names_every_row_of_it(shop):
    rows = [
        ["订单号", "金额", "支付时间", "sku", "数量", "单价"],
        ["A", "30", "2025-06-01 10:00", "S1", "1", "10"],  # row 2
        ["B", "10", "2025-06-01 11:00", "S1", "1", "10"],  # row 3: good
        ["A", "30", "2025-06-01 10:00", "S2", "0", "10"],  # row 4: bad quantity
        ["A", "35", "2025-06-01 10:00", "S3", "1", "10"],  # row 5: another amount than row 2
        ["A", "30", "2025-06-01 10:00", "S4", "1", "10"],  # row 6
    ]
    job = run_import(shop, ImportKind.ORDERS, csv_bytes(rows))
    assert counters(job) == (ImportStatus.DONE, 5, 5, 1, 0, 4)
    assert job.errors == [
        {"row": 2, "reason": "Order A was not imported: row 4 has an error."},
        {"row": 4, "reason": "Not a valid quantity: 0"},
        {"row": 5, "reason": "Order A has another 金额 on row 2."},
        {"row": 6, "reason": "Order A was not imported: row 4 has an error."},
    ]
    assert list(Order.objects.filter(shop=shop).values_list("external_id", flat=True)) == ["B"]
    assert OrderItem.objects.filter(shop=shop).count() == 1


def test_member_ids_and_quantities_in_other_digits_or_beyond_bigint_are_row_errors(shop):
    # given: a member whose id is also written in fullwidth digits (which int() would read as that id)
    member = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))[0]
    fullwidth = str(member.pk).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    rows = [
        ["order_id", "member_id", "amount", "paid_at", "sku", "quantity", "unit_price"],
        ["A", "¹", "10", "2025-06-01 10:00", "S1", "1", "10"],  # row 2: superscript member id
        ["B", fullwidth, "10", "2025-06-01 10:00", "S1", "1", "10"],  # row 3
        ["C", "99999999999999999999", "10", "2025-06-01 10:00", "S1", "1", "10"],  # row 4
        ["D", "", "10", "2025-06-01 10:00", "S1", "²", "10"],  # row 5: superscript quantity
        ["E", "", "10", "2025-06-01 10:00", "S1", "１", "10"],  # row 6: fullwidth quantity
        ["F", str(member.pk), "10", "2025-06-01 10:00", "S1", "1", "10"],  # row 7: good
    ]

    # when
    job = run_import(shop, ImportKind.ORDERS, csv_bytes(rows))

    # then: each bad row is named with its reason, the good one kept, the job done
    assert counters(job) == (ImportStatus.DONE, 6, 6, 1, 0, 5)
    assert job.errors == [
        {"row": 2, "reason": "Not a valid member id: ¹"},
        {"row": 3, "reason": f"Not a valid member id: {fullwidth}"},
        {"row": 4, "reason": "Not a valid member id: 99999999999999999999"},
        {"row": 5, "reason": "Not a valid quantity: ²"},
        {"row": 6, "reason": "Not a valid quantity: １"},
    ]
    assert list(Order.objects.filter(shop=shop).values_list("external_id", "member_id")) == [("F", member.pk)]


def test_an_order_row_with_a_control_or_text_direction_character_keeps_its_order_out(shop):
    rows = [
        ["order_id", "amount", "paid_at", "sku", "item_name", "quantity", "unit_price"],
        ["A", "20", "2025-06-01 10:00", "S1", "湿巾", "1", "10"],  # row 2
        ["A", "20", "2025-06-01 10:00", "S2", "奶\u202e粉", "1", "10"],  # row 3: the order's second item
        ["B", "10", "2025-06-01 11:00", "S1", "湿巾", "1", "10"],  # row 4: good
        ["C\x07", "10", "2025-06-01 11:00", "S1", "湿巾", "1", "10"],  # row 5
    ]
    job = run_import(shop, ImportKind.ORDERS, csv_bytes(rows))
    assert job.errors == [
        {"row": 2, "reason": "Order A was not imported: row 3 has an error."},
        {
            "row": 3,
            "reason": "item_name holds the invisible character U+202E: control and text-direction characters "
            "are not allowed.",
        },
        {
            "row": 5,
            "reason": "order_id holds the invisible character U+0007: control and text-direction characters "
            "are not allowed.",
        },
    ]
    assert list(Order.objects.filter(shop=shop).values_list("external_id", flat=True)) == ["B"]
    assert OrderItem.objects.filter(shop=shop).count() == 1


def test_item_columns_without_a_sku_or_price_fail_the_file(shop):
    rows = [["订单号", "金额", "支付时间", "数量"], ["A", "30", "2025-06-01", "1"]]
    job = run_import(shop, ImportKind.ORDERS, csv_bytes(rows))
    assert counters(job) == (ImportStatus.FAILED, 0, 0, 0, 0, 0)
    assert job.message == "Item columns need 商品编码/sku, 单价/unit_price as well (one row per item)."
    assert Order.objects.count() == 0


def test_order_replays_count_as_duplicates_and_a_second_import_creates_nothing(shop):
    # given: one of the orders already arrived through the API, with the same content
    order_record(
        shop=shop,
        data=OrderInput(
            external_id="R1", phone="+8613800138000", amount=Decimal("10.00"), paid_at=_shanghai(2025, 5, 1, 9)
        ),
    )
    rows = [
        ["订单号", "手机号", "金额", "支付时间", "商品编码", "单价"],
        ["R1", "13800138000", "10", "2025-05-01 09:00:00", "", ""],
        ["R2", "13800138000", "20", "2025-05-02 09:00:00", "S", "20"],
        ["R3", "", "30", "2025-05-03 09:00:00", "", ""],
    ]
    first = run_import(shop, ImportKind.ORDERS, csv_bytes(rows))
    snapshot = (list(Order.objects.order_by("pk").values()), list(OrderItem.objects.order_by("pk").values()))
    # when
    second = run_import(shop, ImportKind.ORDERS, xlsx_bytes(rows), name="same-orders.xlsx")
    # then
    assert counters(first) == (ImportStatus.DONE, 3, 3, 2, 1, 0)
    assert counters(second) == (ImportStatus.DONE, 3, 3, 0, 3, 0)
    assert (list(Order.objects.order_by("pk").values()), list(OrderItem.objects.order_by("pk").values())) == snapshot


# --- Chunks, progress, resumption, the task ------------------------------------------------------------------------


def _member_rows(count: int) -> list[list]:
    return [["手机号"], *([f"138{n:08d}"] for n in range(count))]


def test_rows_are_processed_in_chunks_that_each_record_progress(shop, monkeypatch):
    monkeypatch.setattr(engine, "CHUNK_SIZE", 2)
    seen = []
    write = engine._import_chunk

    def spy(**kwargs):
        seen.append(ImportJob.objects.values_list("processed_rows", "created_rows").get(pk=kwargs["job"].pk))
        return write(**kwargs)

    monkeypatch.setattr(engine, "_import_chunk", spy)
    job = run_import(shop, ImportKind.MEMBERS, csv_bytes(_member_rows(5)))
    assert seen == [(0, 0), (2, 2), (4, 4)]
    assert counters(job) == (ImportStatus.DONE, 5, 5, 5, 0, 0)


def test_a_rerun_after_a_lost_worker_resumes_after_the_last_written_chunk(shop, monkeypatch):
    # given: a worker that dies (not an exception the job could catch) while writing the second chunk
    monkeypatch.setattr(engine, "CHUNK_SIZE", 2)
    rows = [*_member_rows(5), ["bad"]]
    job = import_create(
        shop=shop,
        kind=ImportKind.MEMBERS,
        upload=ContentFile(csv_bytes(rows), name="m.csv"),
        actor=SYSTEM,
        dispatch=False,
    )
    write, calls = engine._import_chunk, []

    def dying(**kwargs):
        calls.append(kwargs["offset"])
        if len(calls) == 2:
            raise SystemExit("worker lost")
        return write(**kwargs)

    monkeypatch.setattr(engine, "_import_chunk", dying)
    with pytest.raises(SystemExit):
        import_process(shop=shop, job_id=job.pk)
    job.refresh_from_db()
    assert counters(job) == (ImportStatus.RUNNING, 6, 2, 2, 0, 0)
    # when: the task is delivered again
    monkeypatch.setattr(engine, "_import_chunk", write)
    job = import_process(shop=shop, job_id=job.pk)
    # then: every row counted once
    assert counters(job) == (ImportStatus.DONE, 6, 6, 5, 0, 1)
    assert job.errors == [{"row": 7, "reason": "Not a valid phone number: bad"}]
    assert Member.objects.filter(shop=shop).count() == 5


def test_an_unexpected_error_fails_the_job_and_keeps_the_chunks_written(shop, monkeypatch):
    monkeypatch.setattr(engine, "CHUNK_SIZE", 2)
    write, calls = engine._import_chunk, []

    def broken(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("bug")
        return write(**kwargs)

    monkeypatch.setattr(engine, "_import_chunk", broken)
    with pytest.raises(RuntimeError):
        run_import(shop, ImportKind.MEMBERS, csv_bytes(_member_rows(5)))
    job = ImportJob.objects.get(shop=shop)
    assert counters(job) == (ImportStatus.FAILED, 5, 2, 2, 0, 0)
    assert job.message.startswith("The import stopped unexpectedly after 2 rows.")
    assert Member.objects.filter(shop=shop).count() == 2


def test_the_task_finds_the_jobs_shop_and_a_finished_job_is_left_alone(shop, other_shop):
    job = import_create(
        shop=shop,
        kind=ImportKind.MEMBERS,
        upload=ContentFile(csv_bytes(MEMBER_ROWS), name="m.csv"),
        actor=SYSTEM,
        dispatch=False,
    )
    import_run(job.pk)
    done = ImportJob.objects.values().get(pk=job.pk)
    import_run(job.pk)  # a duplicate delivery
    import_run(job.pk + 1000)  # a job that no longer exists
    assert ImportJob.objects.values().get(pk=job.pk) == done
    assert (done["status"], done["created_rows"]) == (ImportStatus.DONE, 3)
    assert Member.objects.filter(shop=shop).count() == 3
    assert Member.objects.filter(shop=other_shop).count() == 0


# --- Dashboard -------------------------------------------------------------------------------------------------------


def test_upload_imports_in_the_background_lists_the_job_and_serves_its_error_report(
    owner_client, shop, django_capture_on_commit_callbacks
):
    owner_client.cookies["django_language"] = "en"
    url = reverse("dashboard:imports", args=[shop.slug])
    rows = [["手机号", "姓名"], ["13800138000", "张三"], ["=1+2", "坏"], ["13800138000", "重复"]]
    upload = ContentFile(csv_bytes(rows, "gbk"), name="会员.csv")
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = owner_client.post(url, {"kind": "members", "file": upload})
    # then
    assert response.status_code == 302 and response["Location"] == url
    assert len(callbacks) == 1
    job = ImportJob.objects.get(shop=shop)
    assert (job.original_name, job.created_by.email) == ("会员.csv", "owner@shop-a.example")
    assert counters(job) == (ImportStatus.DONE, 3, 3, 1, 0, 2)
    assert job.file.name.startswith("imports/") and f"/shop{shop.pk}-" in job.file.name
    assert AuditLogEntry.objects.filter(shop=shop, action="import.create", object_id=str(job.pk)).count() == 1
    page = owner_client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "会员.csv" in html and reverse("dashboard:import_errors", args=[shop.slug, job.pk]) in html
    assert "js/reload.js" not in html  # nothing left running
    assert f'href="{url}" aria-current="page"' in html  # the Imports tab of the members area
    report = owner_client.get(reverse("dashboard:import_errors", args=[shop.slug, job.pk]))
    assert report.status_code == 200 and report["Content-Type"] == "text/csv; charset=utf-8"
    assert report.content.decode("utf-8") == (
        "\ufeffRow,Reason\r\n3,Not a valid phone number: =1+2\r\n4,Duplicate within the file: same phone as row 2.\r\n"
    )


def test_the_page_refreshes_itself_while_an_import_runs(owner_client, shop):
    import_create(
        shop=shop, kind=ImportKind.ORDERS, upload=ContentFile(b"x", name="o.csv"), actor=SYSTEM, dispatch=False
    )
    html = owner_client.get(reverse("dashboard:imports", args=[shop.slug])).content.decode()
    assert "js/reload.js" in html and 'http-equiv="refresh"' in html


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("members.xls", b"x", "Old Excel files (.xls) cannot be read: save the file as .xlsx or CSV."),
        ("members.txt", b"x", "Upload a CSV or XLSX file."),
        ("members.csv", b"x" * 2048, "The file is larger than 0 MB: split it into smaller files."),
    ],
)
def test_the_upload_form_refuses_a_wrong_type_or_an_oversize_file_with_a_clear_message(
    owner_client, shop, monkeypatch, name, content, error
):
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1024)
    owner_client.cookies["django_language"] = "en"
    response = owner_client.post(
        reverse("dashboard:imports", args=[shop.slug]), {"kind": "members", "file": ContentFile(content, name=name)}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"file": [error]}
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize(
    ("role", "status"), [(Role.ADMIN, 200), (Role.MARKETER, 403), (Role.ANALYST, 403), (Role.CLERK, 403)]
)
def test_imports_need_the_import_and_export_permission(client, shop, role, status):
    job = import_create(
        shop=shop, kind=ImportKind.MEMBERS, upload=ContentFile(b"x", name="m.csv"), actor=SYSTEM, dispatch=False
    )
    client.force_login(add_staff(shop, role))
    assert client.get(reverse("dashboard:imports", args=[shop.slug])).status_code == status
    assert client.get(reverse("dashboard:import_errors", args=[shop.slug, job.pk])).status_code == status
    upload = ContentFile(csv_bytes(MEMBER_ROWS), name="m.csv")
    response = client.post(reverse("dashboard:imports", args=[shop.slug]), {"kind": "members", "file": upload})
    assert response.status_code == (302 if status == 200 else 403)
    assert ImportJob.objects.count() == (2 if status == 200 else 1)


def test_another_shops_import_and_pages_answer_404_and_stay_unchanged(owner_client, shop, other_shop):
    """What tests/test_isolation.py proves for every route once config/urls.py includes these pages."""
    routes = [r for r in tenant_routes(urlpatterns) if r.name in {"dashboard:import_errors", "dashboard:imports"}]
    assert {r.name for r in routes} == {"dashboard:import_errors", "dashboard:imports"}
    case = CASES["dashboard:import_errors"]
    foreign = case.make(other_shop)
    before = case.snapshot(foreign)
    assert owner_client.get(reverse("dashboard:import_errors", args=[shop.slug, foreign["pk"]])).status_code == 404
    assert (
        owner_client.get(reverse("dashboard:import_errors", args=[other_shop.slug, foreign["pk"]])).status_code == 404
    )
    assert owner_client.get(reverse("dashboard:imports", args=[other_shop.slug])).status_code == 404
    upload = ContentFile(csv_bytes(MEMBER_ROWS), name="m.csv")
    response = owner_client.post(
        reverse("dashboard:imports", args=[other_shop.slug]), {"kind": "members", "file": upload}
    )
    assert response.status_code == 404
    assert case.snapshot(foreign) == before
    assert ImportJob.objects.filter(shop=other_shop).count() == 1
    assert Member.objects.count() == 0


# --- Commands --------------------------------------------------------------------------------------------------------


def test_import_members_command_runs_synchronously_and_prints_the_summary_and_first_errors(shop, tmp_path, capsys):
    path = tmp_path / "members.csv"
    path.write_bytes(csv_bytes([*MEMBER_ROWS, ["bad", "", "", "", "", "", ""]], "gbk"))
    call_command("import_members", "--shop", shop.slug, str(path))
    out = capsys.readouterr().out.splitlines()
    job = ImportJob.objects.get(shop=shop)
    assert out == [
        f"Import {job.pk} (members) of members.csv: 4 rows, 3 created, 0 duplicates, 1 errors.",
        "Row 5: Not a valid phone number: bad",
    ]
    assert (job.status, job.created_by) == (ImportStatus.DONE, None)
    assert members_of(shop) == EXPECTED_MEMBERS


def test_import_orders_command_imports_and_a_rerun_counts_duplicates(shop, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_bytes(csv_bytes([["订单号", "金额", "支付时间"], ["C1", "12.5", "2025-03-01 08:00"]]))
    call_command("import_orders", "--shop", shop.slug, str(path))
    call_command("import_orders", "--shop", shop.slug, str(path))
    out = capsys.readouterr().out.splitlines()
    first, second = ImportJob.objects.filter(shop=shop).order_by("pk")
    assert out == [
        f"Import {first.pk} (orders) of orders.csv: 1 rows, 1 created, 0 duplicates, 0 errors.",
        f"Import {second.pk} (orders) of orders.csv: 1 rows, 0 created, 1 duplicates, 0 errors.",
    ]
    assert list(Order.objects.filter(shop=shop).values_list("external_id", "amount")) == [("C1", Decimal("12.50"))]


def test_import_commands_fail_clearly_and_store_nothing(shop, tmp_path):
    headerless = tmp_path / "headerless.csv"
    headerless.write_bytes(b"13800138000\n13900139000\n")
    with pytest.raises(CommandError, match="No shop with slug 'nope'"):
        call_command("import_members", "--shop", "nope", str(headerless))
    with pytest.raises(CommandError, match="No file at"):
        call_command("import_members", "--shop", shop.slug, str(tmp_path / "missing.csv"))
    wrong = tmp_path / "members.pdf"
    wrong.write_bytes(b"%PDF")
    with pytest.raises(CommandError, match="Upload a CSV or XLSX file"):
        call_command("import_members", "--shop", shop.slug, str(wrong))
    with pytest.raises(CommandError, match="failed: Required columns are missing: 手机号/phone"):
        call_command("import_members", "--shop", shop.slug, str(headerless))
    assert Member.objects.count() == 0
    assert list(ImportJob.objects.values_list("status", flat=True)) == [ImportStatus.FAILED]
