"""Writes on orders: recording (single and bulk, set-based), status changes and refunds.

Invariants: an order, and a refund, is recorded once per external id and shop; a replay returns the first result
and records nothing; the same id with a different body is a conflict, never an overwrite. A member's aggregates
(spend = paid minus refunded over counted orders, count of counted orders, first/last order time, the same over the
last 12 months) change in the same transaction as the facts they summarise, written by members.figures.

Points, tiers, coupons and recruitment build on this without orders importing them (apps depend downwards only):
every write runs the extension points of shops.extensions named where it calls them, in the same transaction, with
what it created (orders: ORDER_POINTS_AWARD, then ORDERS_CREATED; a refund: REFUND_CREATED; a status change:
ORDER_STATUS_CHANGED), so every path that records orders (API, bulk, imports, demo) awards points and moves tiers,
and a replay, which creates nothing, awards nothing twice.
"""

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property, partial

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from events import outbox
from events.outbox import NewEvent, emit
from events.types import EventType
from members.figures import (
    WINDOW_12M,
    SpendDelta,
    member_aggregates_apply,
    member_order_span_set,
    members_lock_for_orders,
)
from members.services import members_for_orders
from shops.bulk import gc_paused, in_condition, insert_rows, models_select, values_cte
from shops.errors import ApplicationError
from shops.extensions import (
    ORDER_POINTS_AWARD,
    ORDER_STATUS_CHANGED,
    ORDERS_CREATED,
    REFUND_CREATED,
    implementation,
    implementations,
)
from shops.idempotency import body_hash
from shops.models import Shop

from .errors import InvalidOrder, InvalidStatusChange, OrderConflict, RefundConflict, RefundExceedsOrder, UnknownMember
from .models import COUNTED_STATUSES, Order, OrderStatus, Refund

# Tills and platforms clocks drift: an order may be stamped a little in the future, not more.
FUTURE_TOLERANCE = timedelta(minutes=10)
INITIAL_STATUSES = (OrderStatus.PAID, OrderStatus.COMPLETED, OrderStatus.CANCELLED)
MAX_BATCH = 1000
# Older dates are typing mistakes, not sales (and before 1901 time zones render as local mean time).
EARLIEST_PAID_AT = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ItemInput:
    sku: str
    quantity: int
    unit_price: Decimal
    name: str = ""
    category: str = ""


@dataclass(frozen=True)
class OrderInput:
    """A validated order as received (phone already E.164). `body_hash` identifies its content for replays."""

    external_id: str
    amount: Decimal
    paid_at: datetime
    status: str = OrderStatus.PAID
    member_id: int | None = None
    phone: str = ""
    items: tuple[ItemInput, ...] = field(default_factory=tuple)

    @cached_property
    def body_hash(self) -> str:
        # The JSON of dataclasses.asdict(self) with paid_at in UTC (stored hashes depend on it), built directly:
        # asdict's deep copy was a third of a bulk batch's time.
        body = {name: getattr(self, name) for name in _ORDER_FIELDS}
        body["paid_at"] = self.paid_at.astimezone(UTC).isoformat()
        body["items"] = [vars(item) for item in self.items]
        return body_hash(**body)


_ORDER_FIELDS = tuple(f.name for f in fields(OrderInput))
ITEM_COLUMNS = [
    ("shop_id", "int"),
    ("order_id", "int"),
    ("sku", "text"),
    ("name", "text"),
    ("category", "text"),
    ("quantity", "int"),
    ("unit_price", "decimal"),
]


@dataclass(frozen=True)
class CreatedOrder:
    """An order of a batch as the extension points receive it: about to be written (ORDER_POINTS_AWARD's
    orders_award, `pk` None), then created by the call (its orders_created, and ORDERS_CREATED)."""

    member_id: int | None
    data: OrderInput
    buyer_enrolled: bool = False  # the buyer was enrolled by this batch (join on purchase)
    pk: int | None = None


class Recorded:
    """What recording one order did: created it, or found it recorded already (a replay). The Order instance is
    built on first use of `order`: a batch of a thousand is usually answered from `created` alone."""

    def __init__(self, order: Order | Callable[[], Order], *, created: bool):
        self.created = created
        self._order = order

    @cached_property
    def order(self) -> Order:
        return self._order if isinstance(self._order, Order) else self._order()

    def replayed(self) -> "Recorded":
        return Recorded(self._order, created=False)


def _new_order(shop: Shop, pk: int, member, data: OrderInput, now: datetime, points: int) -> Order:
    return Order(
        pk=pk,
        shop=shop,
        external_id=data.external_id,
        member=member,
        amount=data.amount,
        paid_at=data.paid_at,
        status=data.status,
        body_hash=data.body_hash,
        created_at=now,
        points_earned=points,
        completed_at=data.paid_at if data.status == OrderStatus.COMPLETED else None,
    )


# An order's external id is a segment of its API address (/orders/{external_id}/): it must survive as one.
UNSAFE_ID_CHARS = frozenset("/\\?#%")
RESERVED_IDS = frozenset({"bulk", ".", ".."})  # "bulk" is the batch endpoint; dot segments are rewritten by clients


def order_check(data: OrderInput, *, now: datetime) -> None:
    """Rules a serializer cannot state alone. Raises InvalidOrder."""
    ext = data.external_id
    if ext in RESERVED_IDS or not ext.isprintable() or ext != ext.strip() or UNSAFE_ID_CHARS & set(ext):
        raise InvalidOrder(
            "external_id must be usable in an address: no spaces at either end, no control characters, none of "
            "/ \\ ? # %, and not 'bulk', '.' or '..'.",
            code="invalid_external_id",
            details={"external_id": ext},
        )
    if data.paid_at < EARLIEST_PAID_AT:
        raise InvalidOrder("paid_at is before 2000.", code="paid_at_too_old", details={"paid_at": str(data.paid_at)})
    if data.paid_at > now + FUTURE_TOLERANCE:
        raise InvalidOrder(
            "paid_at is in the future.", code="paid_at_in_future", details={"paid_at": str(data.paid_at)}
        )
    if data.status not in INITIAL_STATUSES:
        raise InvalidOrder(
            "A new order is paid, completed or cancelled; refunds are recorded through the refunds endpoint.",
            code="invalid_status",
            details={"status": data.status},
        )


def _orders_by_external_id(shop: Shop, external_ids: list[str]) -> dict[str, Order]:
    """The shop's orders of these ids: replays (before the insert for a batch or where buyers may be enrolled on
    purchase, after it otherwise). Written out: the API records orders one at a time."""
    if not external_ids:
        return {}
    condition, params = in_condition("external_id", external_ids)
    return {o.external_id: o for o in models_select(Order, f"shop_id = %s AND {condition}", [shop.pk, *params])}


def _counts(status: str) -> bool:
    return status in COUNTED_STATUSES


@transaction.atomic
def orders_record(*, shop: Shop, orders: list[OrderInput]) -> list[Recorded | ApplicationError]:
    """Record a batch of orders set-based: a few queries whatever the batch size. Returns, for each input in order,
    what happened to it (created, or a replay of an earlier identical order) or the error that refused it.

    Safe to retry and to run concurrently: rows that a concurrent writer inserted first are treated as replays.

    Runs the extension points (shops.extensions) ORDER_POINTS_AWARD (before the insert, then after the buyers'
    lock) and ORDERS_CREATED, in this transaction, for the orders it creates."""
    assert len(orders) <= MAX_BATCH
    with gc_paused(), outbox.batch():  # the batch's events (orders, points, tiers) in one statement
        return _record(shop=shop, orders=orders)


def _record(*, shop: Shop, orders: list[OrderInput]) -> list[Recorded | ApplicationError]:
    now = timezone.now()
    outcome: list[Recorded | ApplicationError | None] = [None] * len(orders)
    first_index: dict[str, int] = {}
    for i, data in enumerate(orders):
        try:
            order_check(data, now=now)
        except ApplicationError as exc:
            outcome[i] = exc
            continue
        first_index.setdefault(data.external_id, i)

    # Replays are looked for first where that saves work: enrolling buyers on purchase writes before the insert,
    # and a replay must not enrol anyone; a batch would lock its buyers and compute their points (a retried batch
    # is all replays). A single order is left to the insert (ON CONFLICT) and read after it, one statement less.
    look_first = shop.join_on_purchase or len(first_index) > 1
    existing = _orders_by_external_id(shop, list(first_index)) if look_first else {}
    new = [i for ext, i in first_index.items() if ext not in existing]
    by_id, by_phone, enrolled, facts = members_for_orders(
        shop=shop,
        member_ids={orders[i].member_id for i in new if orders[i].member_id},
        phones={orders[i].phone for i in new if orders[i].phone and not orders[i].member_id},
        join_on_purchase=shop.join_on_purchase,
    )
    buyers, unknown = {}, []
    for i in sorted(new, key=lambda i: orders[i].external_id):  # one lock order for concurrent batches
        data = orders[i]
        member = by_id.get(data.member_id) if data.member_id else by_phone.get(data.phone)
        if data.member_id and member is None:
            unknown.append(i)  # unless it is a replay of an order whose buyer is gone since
            continue
        buyers[data.external_id] = member
    # Each order is inserted with the points it earns (ORDER_POINTS_AWARD), awarded on its buyer's figures as read
    # above; its orders_created checks them against the figures read under lock after the insert.
    candidates = {
        ext: CreatedOrder(m.pk if m else None, orders[first_index[ext]], buyer_enrolled=bool(m) and m.pk in enrolled)
        for ext, m in buyers.items()
    }
    points_award = implementation(ORDER_POINTS_AWARD)
    award = points_award.orders_award(shop=shop, orders=list(candidates.values()), members=facts)
    points: dict[str, int] = dict(award.points) if award else {}
    rows = []
    for c in candidates.values():
        data = c.data
        completed_at = data.paid_at if data.status == OrderStatus.COMPLETED else None
        rows.append(
            (
                shop.pk,
                data.external_id,
                c.member_id,
                data.amount,
                0,
                data.paid_at,
                completed_at,
                data.status,
                points.get(data.external_id, 0),
                data.body_hash,
                now,
            )
        )
    inserted = insert_rows(
        "orders_order",
        [
            ("shop_id", "int"),
            ("external_id", "text"),
            ("member_id", "int"),
            ("amount", "decimal"),
            ("refunded_amount", "decimal"),
            ("paid_at", "datetime"),
            ("completed_at", "datetime"),
            ("status", "text"),
            ("points_earned", "int"),
            ("body_hash", "text"),
            ("created_at", "datetime"),
        ],
        rows,
        conflict=("shop_id", "external_id"),
        returning=("id", "external_id"),
    )
    created_ids = dict((ext, pk) for pk, ext in inserted)
    lost_races = [ext for ext in buyers if ext not in created_ids]
    existing.update(_orders_by_external_id(shop, lost_races + [orders[i].external_id for i in unknown]))
    for i in unknown:
        if orders[i].external_id not in existing:
            outcome[i] = UnknownMember(details={"member_id": orders[i].member_id})

    items, deltas, created = [], {}, []
    for ext, i in first_index.items():
        if outcome[i] is not None:
            continue
        data = orders[i]
        if ext in created_ids:
            pk, buyer = created_ids[ext], buyers[ext]
            created.append((i, replace(candidates[ext], pk=pk), buyer))
            items += [
                (shop.pk, pk, item.sku, item.name, item.category, item.quantity, item.unit_price) for item in data.items
            ]
            if buyer and _counts(data.status):
                delta = _spend_delta(data.amount, 1, paid_at=data.paid_at, now=now, widen=True)
                deltas[buyer.pk] = deltas[buyer.pk] + delta if buyer.pk in deltas else delta
        elif existing[ext].body_hash == data.body_hash:
            outcome[i] = Recorded(existing[ext], created=False)
        else:
            outcome[i] = OrderConflict(details={"external_id": ext})
    # Each buyer's row is locked and read once, before anything changes it, and after the insert, which may wait
    # for a concurrent writer of the same order id (a refund updating it), as a refund locks the order, then the
    # buyer. The balances that ORDER_POINTS_AWARD changes go into the one update that applies the aggregates.
    buyers_before = members_lock_for_orders(shop=shop, ids=set(deltas))
    created_orders = [c for _i, c, _b in created]
    corrected, changed = points_award.orders_created(
        shop=shop, created=created_orders, members=buyers_before, now=now, awarded=award
    )
    balances = {column: Counter(by_member) for column, by_member in changed.items()}
    # It hands back balances of these buyers only, whose rows members_lock_for_orders locked above.
    assert all(set(by_member) <= buyers_before.keys() for by_member in balances.values())
    for orders_created in implementations(ORDERS_CREATED):
        orders_created(shop=shop, created=created_orders, members=buyers_before, now=now)
    member_aggregates_apply(shop=shop, deltas=deltas, counters=balances, locked=True)
    insert_rows("orders_orderitem", ITEM_COLUMNS, items)
    _points_correct(shop=shop, points=corrected)
    points.update(corrected)
    outbox.emit_many(shop_id=shop.pk, events=[_recorded_event(c) for _i, c, _b in created])
    for i, order, buyer in created:
        earned = points.get(order.data.external_id, 0)
        outcome[i] = Recorded(partial(_new_order, shop, order.pk, buyer, order.data, now, earned), created=True)

    for i, data in enumerate(orders):  # later copies of an id within the batch
        if outcome[i] is not None:
            continue
        ext = data.external_id
        if ext in existing:
            # Recorded before this batch (or by a concurrent writer): each copy is compared with the stored order, not
            # with the batch's first copy, which may itself be the conflicting one.
            same = existing[ext].body_hash == data.body_hash
            outcome[i] = Recorded(existing[ext], created=False) if same else OrderConflict(details={"external_id": ext})
        elif orders[first_index[ext]].body_hash == data.body_hash:
            # the same order again: a replay of the one this batch created, or the same refusal
            first = outcome[first_index[ext]]
            outcome[i] = first.replayed() if isinstance(first, Recorded) else first
        else:
            outcome[i] = OrderConflict(details={"external_id": ext})
    return outcome


def _recorded_event(order: CreatedOrder) -> NewEvent:
    data = order.data
    payload = {
        "order_id": order.pk,
        "external_id": data.external_id,
        "amount": str(data.amount),
        "status": data.status,
        "paid_at": data.paid_at.isoformat(),
    }
    return NewEvent(EventType.ORDER_RECORDED, order.member_id, payload)


def _order_event(order: Order, type: EventType, **values) -> None:
    payload = {"order_id": order.pk, "external_id": order.external_id, **values}
    emit(shop_id=order.shop_id, type=type, member_id=order.member_id, payload=payload)


def _points_correct(*, shop: Shop, points: dict[str, int]) -> None:
    """Set the points of orders whose award the effects corrected after the insert (rarely any)."""
    if not points:
        return
    cte, params = values_cte("v", [("external_id", "text"), ("points", "int")], sorted(points.items()))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""{cte} UPDATE orders_order AS o SET points_earned = v.points FROM v
                WHERE o.shop_id = %s AND o.external_id = v.external_id""",  # noqa: S608 - constants
            [*params, shop.pk],
        )


def order_record(*, shop: Shop, data: OrderInput) -> Recorded:
    """Record one order. A replay returns the first result (created=False) and records nothing.

    Raises InvalidOrder, UnknownMember, OrderConflict."""
    [result] = orders_record(shop=shop, orders=[data])
    if isinstance(result, ApplicationError):
        raise result
    return result


def _spend_delta(spend: Decimal, count: int, *, paid_at: datetime, now: datetime, widen: bool = False) -> SpendDelta:
    """The aggregate change for an order paid at `paid_at`: inside the 12-month window it counts there too."""
    recent = paid_at >= now - WINDOW_12M
    return SpendDelta(
        spend,
        count,
        spend if recent else Decimal(0),
        count if recent else 0,
        paid_at if widen else None,
        paid_at if widen else None,
    )


def _member_delta(order: Order, spend: Decimal, count: int) -> dict[int, SpendDelta]:
    if not order.member_id:
        return {}
    return {order.member_id: _spend_delta(spend, count, paid_at=order.paid_at, now=timezone.now())}


def _order_leaves_aggregates(*, shop: Shop, order: Order, spend: Decimal) -> None:
    """A counted order stopped counting (cancelled or fully refunded): take what it still counted for (`spend`) and
    its place in the count out of its buyer's aggregates, and move first/last order time to the buyer's remaining
    counted orders (a delta can widen that range but not narrow it)."""
    if not order.member_id:
        return
    member_aggregates_apply(shop=shop, deltas=_member_delta(order, -spend, -1))
    span = Order.objects.filter(shop=shop, member_id=order.member_id, status__in=COUNTED_STATUSES).aggregate(
        first=Min("paid_at"), last=Max("paid_at")
    )
    member_order_span_set(shop=shop, member_id=order.member_id, first_at=span["first"], last_at=span["last"])


@transaction.atomic
def order_change_status(*, shop: Shop, order: Order, status: str) -> Order:
    """Ship, deliver, complete or cancel an order. A change to the status it has changes nothing. Shipping and
    delivery are the order's way to completion (they count like a paid order); only a paid order is cancelled.
    A change runs the extension point ORDER_STATUS_CHANGED (shops.extensions) in this transaction.

    Raises InvalidStatusChange."""
    order = Order.objects.select_for_update().get(shop=shop, pk=order.pk)
    if order.status == status:
        return order
    allowed = {
        OrderStatus.SHIPPED: (OrderStatus.PAID,),
        OrderStatus.DELIVERED: (OrderStatus.PAID, OrderStatus.SHIPPED),
        OrderStatus.COMPLETED: (
            OrderStatus.PAID,
            OrderStatus.SHIPPED,
            OrderStatus.DELIVERED,
            OrderStatus.PARTIALLY_REFUNDED,
        ),
        OrderStatus.CANCELLED: (OrderStatus.PAID,),
    }
    if order.status not in allowed.get(status, ()):
        raise InvalidStatusChange(details={"from": order.status, "to": status})
    previous, order.status = order.status, status
    if status == OrderStatus.CANCELLED:
        order.save(update_fields=["status"])
        _order_leaves_aggregates(shop=shop, order=order, spend=order.amount)  # only paid orders are cancelled
    elif status == OrderStatus.COMPLETED:
        order.completed_at = timezone.now()
        order.save(update_fields=["status", "completed_at"])
    else:
        order.save(update_fields=["status"])
    _order_event(order, EventType.ORDER_STATUS_CHANGED, **{"from": previous, "to": status})
    for order_status_changed in implementations(ORDER_STATUS_CHANGED):
        order_status_changed(shop=shop, order=order, previous=previous)
    return order


@dataclass(frozen=True)
class RefundInput:
    external_id: str
    amount: Decimal
    refunded_at: datetime | None = None

    def body_hash(self, order: Order) -> str:
        body = f"{order.external_id}|{self.external_id}|{self.amount}"
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass
class RefundRecorded:
    refund: Refund
    created: bool


@transaction.atomic
def refund_record(*, shop: Shop, order: Order, data: RefundInput) -> RefundRecorded:
    """Record a full or partial refund of `order`. A replay returns the first refund and records nothing. A new
    refund runs the extension point REFUND_CREATED (shops.extensions) in this transaction.

    Raises RefundConflict (same refund id, other content), RefundExceedsOrder, InvalidStatusChange (cancelled)."""
    order = Order.objects.select_for_update().get(shop=shop, pk=order.pk)
    body_hash = data.body_hash(order)
    earlier = Refund.objects.filter(shop=shop, external_id=data.external_id).first()
    if earlier:
        if earlier.body_hash != body_hash:
            raise RefundConflict(details={"external_id": data.external_id})
        return RefundRecorded(earlier, created=False)
    if order.status == OrderStatus.CANCELLED:
        raise InvalidStatusChange("A cancelled order cannot be refunded.", details={"status": order.status})
    if data.refunded_at and data.refunded_at < order.paid_at:
        raise InvalidOrder(
            "A refund cannot precede the payment it returns.",
            code="refund_before_payment",
            details={"refunded_at": str(data.refunded_at), "paid_at": str(order.paid_at)},
        )
    left = order.amount - order.refunded_amount
    if data.amount <= 0 or data.amount > left:
        raise RefundExceedsOrder(details={"amount": str(data.amount), "refundable": str(left)})
    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                shop=shop,
                order=order,
                external_id=data.external_id,
                amount=data.amount,
                refunded_at=data.refunded_at or timezone.now(),
                body_hash=body_hash,
            )
    except IntegrityError:  # the same refund id, recorded meanwhile against another order
        raise RefundConflict(details={"external_id": data.external_id}) from None
    order.refunded_amount += data.amount
    fully = order.refunded_amount == order.amount
    order.status = OrderStatus.REFUNDED if fully else OrderStatus.PARTIALLY_REFUNDED
    order.save(update_fields=["refunded_amount", "status"])
    if fully:
        _order_leaves_aggregates(shop=shop, order=order, spend=data.amount)
    else:
        member_aggregates_apply(shop=shop, deltas=_member_delta(order, -data.amount, 0))
    _order_event(
        order,
        EventType.ORDER_REFUNDED,
        refund_id=refund.pk,
        refund_external_id=refund.external_id,
        amount=str(refund.amount),
        fully=fully,
    )
    for refund_created in implementations(REFUND_CREATED):
        refund_created(shop=shop, order=order, refund=refund)
    return RefundRecorded(refund, created=True)
