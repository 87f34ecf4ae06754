"""The orders kind of import (the engine is members.imports.engine): historical orders from CSV/XLSX, recorded
through orders_record.

Members sits below orders and imports none of it: orders registers ORDER_IMPORT for the "orders" kind (extension
point IMPORT_HANDLER, orders.apps).
Rows of one order number are one order (one row per item when the file has item columns): a bad row keeps its
whole order out, and orders recorded already (same number, same content) are counted as duplicates.
"""

import datetime
import re
import zoneinfo
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from members.errors import ImportFileError
from members.imports.files import Columns, Table
from members.imports.kind import (
    PHONE_ALIASES,
    ChunkResult,
    ImportKindHandler,
    Row,
    RowError,
    Unit,
    error_entry,
    row_amount,
    row_phone,
)
from shops.errors import ApplicationError
from shops.ids import parse_id, parse_int
from shops.models import Shop
from shops.time import shop_zone

from .errors import OrderConflict, UnknownMember
from .models import OrderStatus
from .services import FUTURE_TOLERANCE, MAX_BATCH, ItemInput, OrderInput, orders_record

ORDER_COLUMNS = {
    "external_id": ("订单号", "订单编号", "订单id", "externalid", "orderid", "orderno", "ordernumber"),
    "phone": PHONE_ALIASES,
    "member_id": ("会员id", "会员编号", "memberid"),
    "amount": ("金额", "实付金额", "订单金额", "支付金额", "实付款", "amount", "paidamount", "total"),
    "paid_at": ("支付时间", "付款时间", "成交时间", "paidat", "paytime", "paymenttime", "paid"),
    "status": ("状态", "订单状态", "status"),
    "sku": ("sku", "商品编码", "商品编号", "货号", "skuid"),
    "item_name": ("商品名称", "商品", "品名", "名称", "itemname", "productname", "name"),
    "category": ("类目", "品类", "分类", "商品类目", "category"),
    "quantity": ("数量", "购买数量", "quantity", "qty"),
    "unit_price": ("单价", "商品单价", "unitprice", "price"),
}
ITEM_FIELDS = ("sku", "item_name", "category", "quantity", "unit_price")
EARLIEST_YEAR = 1970  # an older payment time is a typo (or a spreadsheet's zero date), not history
ITEM_REQUIRED = {"sku": "商品编码/sku", "unit_price": "单价/unit_price"}


def _paid_at(row: Row, tz: zoneinfo.ZoneInfo, now: datetime.datetime) -> datetime.datetime:
    """Naive times are in the shop's time zone."""
    value = row["paid_at"]
    if value == "":
        raise RowError(_("%(column)s is empty.") % {"column": row.column("paid_at")})
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime.combine(value, datetime.time())
    else:
        moment = _parse_datetime(value)
        if moment is None:
            raise RowError(
                _("Not a valid time in %(column)s: %(value)s (use YYYY-MM-DD HH:MM:SS)")
                % {"column": row.column("paid_at"), "value": value}
            )
    if moment.year < EARLIEST_YEAR:
        raise RowError(
            _("Not a valid time in %(column)s: %(value)s (use YYYY-MM-DD HH:MM:SS)")
            % {"column": row.column("paid_at"), "value": value}
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    if moment > now + FUTURE_TOLERANCE:
        raise RowError(_("%(column)s is in the future: %(value)s") % {"column": row.column("paid_at"), "value": value})
    return moment


def _parse_datetime(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        pass
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?", text)
    if not match:
        return None
    try:
        return datetime.datetime(*(int(p) for p in match.groups() if p is not None))
    except ValueError:
        return None


ORDER_STATUSES = {
    "": OrderStatus.PAID,
    "paid": OrderStatus.PAID,
    "已支付": OrderStatus.PAID,
    "已付款": OrderStatus.PAID,
    "支付成功": OrderStatus.PAID,
    "completed": OrderStatus.COMPLETED,
    "complete": OrderStatus.COMPLETED,
    "已完成": OrderStatus.COMPLETED,
    "完成": OrderStatus.COMPLETED,
    "交易成功": OrderStatus.COMPLETED,
    "交易完成": OrderStatus.COMPLETED,
    "cancelled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
    "已取消": OrderStatus.CANCELLED,
    "取消": OrderStatus.CANCELLED,
    "交易关闭": OrderStatus.CANCELLED,
    "已关闭": OrderStatus.CANCELLED,
}


def _status(row: Row) -> str:
    raw = row.text("status", max_length=40)
    try:
        return ORDER_STATUSES[raw.lower()]
    except KeyError:
        raise RowError(
            _("Unknown order status: %(value)s (use paid, completed or cancelled; record refunds separately)")
            % {"value": raw}
        ) from None


def _member_id(row: Row) -> int | None:
    raw = row.text("member_id", max_length=20)
    if not raw:
        return None
    if (member_id := parse_id(raw)) is None:
        raise RowError(_("Not a valid member id: %(value)s") % {"value": raw})
    return member_id


def _quantity(row: Row) -> int:
    raw = row.text("quantity", max_length=20)
    if not raw:
        return 1
    if (quantity := parse_int(raw, minimum=1, maximum=100_000)) is None:
        raise RowError(_("Not a valid quantity: %(value)s") % {"value": raw})
    return quantity


@dataclass
class _OrderDraft:
    unit: Unit
    external_id: str
    first_row: int
    head: tuple | None = None  # (amount, paid_at, status, member_id, phone) of the first row, when it was valid
    items: list[ItemInput] = field(default_factory=list)


HEAD_FIELDS = ("amount", "paid_at", "status", "member_id", "phone")


def _order_head(row: Row, tz: zoneinfo.ZoneInfo, now: datetime.datetime) -> tuple:
    amount = row_amount(row, "amount")
    paid_at = _paid_at(row, tz, now)
    status = _status(row)
    member_id = _member_id(row)
    phone = row_phone(row) if row["phone"] else ""
    if member_id and phone:
        raise RowError(_("Give a phone or a member id, not both."))
    return amount, paid_at, status, member_id, phone


def _order_item(row: Row) -> ItemInput | None:
    if not any(row[name] != "" for name in ITEM_FIELDS):
        return None  # an order without items in a file that has item columns
    return ItemInput(
        sku=row.text("sku", max_length=64, required=True),
        name=row.text("item_name", max_length=200),
        category=row.text("category", max_length=64),
        quantity=_quantity(row),
        unit_price=row_amount(row, "unit_price"),
    )


def _order_units(*, table: Table, columns: Columns, shop: Shop, now: datetime.datetime) -> list[Unit]:
    """Rows of one order number form one unit (one row per item when the file has item columns). Any bad row
    keeps its whole order out, and every row of that order is named. Raises ImportFileError for item columns
    without a SKU or a unit price."""
    item_columns = set(ITEM_FIELDS) & set(columns.positions)
    if item_columns and not {"sku", "unit_price"} <= item_columns:
        missing = [label for name, label in ITEM_REQUIRED.items() if name not in item_columns]
        raise ImportFileError(
            _("Item columns need %(columns)s as well (one row per item).") % {"columns": ", ".join(missing)}
        )
    with_items = bool(item_columns)
    tz = shop_zone(shop)
    units, drafts = [], {}
    for number, cells in table.rows:
        row = Row(number, cells, columns)
        try:
            external_id = row.text("external_id", max_length=64, required=True)
        except RowError as exc:
            units.append(Unit([number], errors=[error_entry(number, str(exc))]))
            continue
        draft = drafts.get(external_id)
        if draft is not None and not with_items:
            reason = _("Duplicate within the file: order %(order)s is also on row %(row)s.")
            units.append(
                Unit([number], errors=[error_entry(number, reason % {"order": external_id, "row": draft.first_row})])
            )
            continue
        if draft is None:
            draft = drafts[external_id] = _OrderDraft(Unit([]), external_id, number)
            units.append(draft.unit)
        draft.unit.rows.append(number)
        try:
            head = _order_head(row, tz, now)
            item = _order_item(row) if with_items else None
        except RowError as exc:
            draft.unit.errors.append(error_entry(number, str(exc)))
            continue
        if draft.first_row == number:
            draft.head = head
        elif draft.head is not None and head != draft.head:
            differs = next(row.column(name) for name, a, b in zip(HEAD_FIELDS, head, draft.head, strict=True) if a != b)
            reason = _("Order %(order)s has another %(column)s on row %(row)s.")
            draft.unit.errors.append(
                error_entry(number, reason % {"order": external_id, "column": differs, "row": draft.first_row})
            )
            continue
        if item:
            draft.items.append(item)
    for draft in drafts.values():
        unit = draft.unit
        if unit.errors:
            failed = {e["row"] for e in unit.errors}
            reason = _("Order %(order)s was not imported: row %(row)s has an error.")
            unit.errors += [
                error_entry(n, reason % {"order": draft.external_id, "row": min(failed)})
                for n in unit.rows
                if n not in failed
            ]
            continue
        amount, paid_at, status, member_id, phone = draft.head
        unit.value = OrderInput(
            external_id=draft.external_id,
            amount=amount,
            paid_at=paid_at,
            status=status,
            member_id=member_id,
            phone=phone,
            items=tuple(draft.items),
        )
    return units


def _order_error_reason(exc: ApplicationError, order: OrderInput) -> str:
    if isinstance(exc, OrderConflict):
        return _("Order %(order)s was already recorded with different content.") % {"order": order.external_id}
    if isinstance(exc, UnknownMember):
        return _("No member with id %(value)s in your shop.") % {"value": order.member_id}
    return str(exc.message)


def _orders_chunk(*, shop: Shop, units: list[Unit]) -> ChunkResult:
    """Record the chunk's orders through orders_record: replays of recorded orders are duplicates."""
    result = ChunkResult()
    for unit in units:
        result.errors += unit.errors
    valid = [unit for unit in units if unit.value is not None]
    outcomes = orders_record(shop=shop, orders=[unit.value for unit in valid]) if valid else []
    for unit, outcome in zip(valid, outcomes, strict=True):
        if isinstance(outcome, ApplicationError):
            reason = _order_error_reason(outcome, unit.value)
            result.errors += [error_entry(n, reason) for n in unit.rows]
        elif outcome.created:
            result.created += len(unit.rows)
        else:
            result.duplicates += len(unit.rows)
    return result


ORDER_IMPORT = ImportKindHandler(
    columns=ORDER_COLUMNS,
    required={"external_id": "订单号/external_id", "amount": "金额/amount", "paid_at": "支付时间/paid_at"},
    units=_order_units,
    write=_orders_chunk,
    chunk_size=MAX_BATCH,
)
