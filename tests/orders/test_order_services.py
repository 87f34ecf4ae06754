"""orders.services: recording (single and batch), status changes and refunds, with members' aggregates exact and
nothing changed when a write is refused."""

import gc
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Max, Min
from django.forms.models import model_to_dict
from django.utils import timezone

from members.figures import member_windows_refresh
from members.models import Member
from members.services import Enrolment, member_enroll, member_erase
from orders import services as orders_services
from orders.errors import (
    InvalidOrder,
    InvalidStatusChange,
    OrderConflict,
    RefundConflict,
    RefundExceedsOrder,
    UnknownMember,
)
from orders.models import COUNTED_STATUSES, Order, OrderItem, OrderStatus, Refund
from orders.services import (
    ItemInput,
    OrderInput,
    Recorded,
    RefundInput,
    order_change_status,
    order_record,
    orders_record,
    refund_record,
)
from shops.models import Shop
from shops.services import SYSTEM

pytestmark = pytest.mark.django_db

AGGREGATES = ("lifetime_spend", "order_count", "first_order_at", "last_order_at", "spend_12m", "orders_12m")


def _aggregates(member: Member) -> dict:
    return dict(zip(AGGREGATES, Member.objects.filter(pk=member.pk).values_list(*AGGREGATES).get(), strict=True))


def _recomputed(member: Member) -> dict:
    """The member's aggregates as the orders table says they should be (counted orders only)."""
    since = timezone.now() - timedelta(days=365)
    counted = list(Order.objects.filter(member=member, status__in=COUNTED_STATUSES))
    recent = [o for o in counted if o.paid_at >= since]
    span = Order.objects.filter(member=member, status__in=COUNTED_STATUSES).aggregate(
        first=Min("paid_at"), last=Max("paid_at")
    )
    return {
        "lifetime_spend": sum((o.amount - o.refunded_amount for o in counted), Decimal("0.00")),
        "order_count": len(counted),
        "first_order_at": span["first"],
        "last_order_at": span["last"],
        "spend_12m": sum((o.amount - o.refunded_amount for o in recent), Decimal("0.00")),
        "orders_12m": len(recent),
    }


def _tables() -> tuple:
    """Every row a refused order write must leave alone."""
    orders = sorted(tuple(sorted(model_to_dict(o).items())) for o in Order.objects.all())
    return (
        orders,
        OrderItem.objects.count(),
        Refund.objects.count(),
        sorted(tuple(sorted(model_to_dict(m, exclude=["updated_at"]).items())) for m in Member.objects.all()),
    )


@pytest.fixture
def member(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三"))
    return member


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def _order(external_id="O1", *, amount="100.00", paid_at, **fields) -> OrderInput:
    return OrderInput(external_id=external_id, amount=Decimal(amount), paid_at=paid_at, **fields)


def test_an_order_updates_the_members_aggregates_exactly(shop, member, now):
    old = now - timedelta(days=400)
    recent = now - timedelta(days=10)

    first = order_record(shop=shop, data=_order("O1", amount="300.00", paid_at=old, member_id=member.pk))
    second = order_record(
        shop=shop,
        data=_order(
            "O2",
            amount="88.80",
            paid_at=recent,
            member_id=member.pk,
            items=(ItemInput(sku="S1", quantity=2, unit_price=Decimal("44.40"), name="湿巾", category="母婴"),),
        ),
    )

    assert (first.created, second.created) == (True, True)
    assert _aggregates(member) == {
        "lifetime_spend": Decimal("388.80"),
        "order_count": 2,
        "first_order_at": old,
        "last_order_at": recent,
        "spend_12m": Decimal("88.80"),
        "orders_12m": 1,
    }
    assert _aggregates(member) == _recomputed(member)
    stored = Order.objects.get(external_id="O2")
    assert (stored.shop_id, stored.member_id, stored.amount, stored.status) == (
        shop.pk,
        member.pk,
        Decimal("88.80"),
        "paid",
    )
    assert (stored.refunded_amount, stored.completed_at, stored.paid_at) == (Decimal("0.00"), None, recent)
    assert list(
        OrderItem.objects.filter(order=stored).values_list("shop_id", "sku", "name", "category", "quantity")
    ) == [(shop.pk, "S1", "湿巾", "母婴", 2)]


def test_an_order_older_than_the_first_one_moves_first_order_at_back_only(shop, member, now):
    order_record(shop=shop, data=_order("O1", paid_at=now - timedelta(days=5), member_id=member.pk))
    order_record(shop=shop, data=_order("O2", paid_at=now - timedelta(days=50), member_id=member.pk))
    aggregates = _aggregates(member)
    assert (aggregates["first_order_at"], aggregates["last_order_at"]) == (
        now - timedelta(days=50),
        now - timedelta(days=5),
    )


def test_the_buyer_is_found_by_phone(shop, member, now):
    recorded = order_record(shop=shop, data=_order(paid_at=now, phone="+8613800138000"))
    assert recorded.order.member_id == member.pk
    assert _aggregates(member)["order_count"] == 1


def test_an_order_of_a_buyer_who_is_not_a_member_is_kept_without_a_member(shop, member, now):
    recorded = order_record(shop=shop, data=_order(paid_at=now, phone="+8613900139000"))
    assert recorded.created is True
    assert Order.objects.get().member_id is None
    assert Member.objects.count() == 1
    assert _aggregates(member)["order_count"] == 0


def test_an_anonymous_order_is_kept_without_a_member(shop, now):
    order_record(shop=shop, data=_order(paid_at=now))
    assert list(Order.objects.values_list("external_id", "member_id")) == [("O1", None)]


def test_join_on_purchase_enrols_the_buyer_and_counts_the_order(shop, now):
    Shop.objects.filter(pk=shop.pk).update(join_on_purchase=True)
    shop.refresh_from_db()

    recorded = order_record(shop=shop, data=_order(amount="50.00", paid_at=now, phone="+8613900139000"))

    buyer = Member.objects.get(shop=shop, phone="+8613900139000")
    assert (buyer.join_channel, buyer.status) == ("purchase", "active")
    assert recorded.order.member_id == buyer.pk
    assert _aggregates(buyer) == {
        "lifetime_spend": Decimal("50.00"),
        "order_count": 1,
        "first_order_at": now,
        "last_order_at": now,
        "spend_12m": Decimal("50.00"),
        "orders_12m": 1,
    }


def test_join_on_purchase_keeps_an_existing_member(shop, member, now):
    Shop.objects.filter(pk=shop.pk).update(join_on_purchase=True)
    shop.refresh_from_db()
    order_record(shop=shop, data=_order(paid_at=now, phone="+8613800138000"))
    assert list(Member.objects.values_list("pk", "join_channel")) == [(member.pk, "")]


def test_a_replay_returns_the_first_order_and_records_nothing(shop, member, now):
    data = _order(paid_at=now, member_id=member.pk, items=(ItemInput(sku="S", quantity=1, unit_price=Decimal("100")),))
    first = order_record(shop=shop, data=data)
    before = _tables()

    again = order_record(shop=shop, data=data)

    assert (again.created, again.order.pk) == (False, first.order.pk)
    assert _tables() == before
    assert _aggregates(member)["order_count"] == 1


@pytest.mark.parametrize("join_on_purchase", [False, True])
def test_a_replay_whose_buyer_was_erased_since_returns_the_first_order_and_enrols_nobody(
    shop, member, now, join_on_purchase
):
    Shop.objects.filter(pk=shop.pk).update(join_on_purchase=join_on_purchase)
    shop.refresh_from_db()
    by_id = _order("O1", paid_at=now, member_id=member.pk)
    by_phone = _order("O2", paid_at=now, phone="+8613800138000")
    first = [order_record(shop=shop, data=data).order.pk for data in (by_id, by_phone)]
    member_erase(shop=shop, member=member, actor=SYSTEM)
    before = _tables()

    again = [order_record(shop=shop, data=data) for data in (by_id, by_phone)]

    assert [(r.created, r.order.pk) for r in again] == [(False, pk) for pk in first]
    assert _tables() == before


@pytest.mark.parametrize(
    "change",
    [
        {"amount": Decimal("100.01")},
        {"paid_at_shift": timedelta(seconds=1)},
        {"status": OrderStatus.COMPLETED},
        {"member_id": None},
        {"items": (ItemInput(sku="S", quantity=2, unit_price=Decimal("50")),)},
    ],
)
def test_the_same_external_id_with_another_body_is_a_conflict_and_changes_nothing(shop, member, now, change):
    order_record(shop=shop, data=_order(paid_at=now, member_id=member.pk))
    before = _tables()
    fields = {"paid_at": now, "member_id": member.pk}
    if "paid_at_shift" in change:
        fields["paid_at"] = now + change.pop("paid_at_shift")
    fields.update(change)

    with pytest.raises(OrderConflict) as exc:
        order_record(shop=shop, data=_order(**fields))

    assert (exc.value.code, exc.value.status, exc.value.details) == ("order_conflict", 409, {"external_id": "O1"})
    assert _tables() == before


def test_an_order_paid_a_little_in_the_future_is_accepted(shop, now):
    assert order_record(shop=shop, data=_order(paid_at=timezone.now() + timedelta(minutes=9))).created


def test_an_order_paid_more_than_ten_minutes_ahead_is_refused(shop, member, now):
    before = _tables()
    with pytest.raises(InvalidOrder) as exc:
        order_record(shop=shop, data=_order(paid_at=timezone.now() + timedelta(minutes=11), member_id=member.pk))
    assert (exc.value.code, exc.value.status) == ("paid_at_in_future", 400)
    assert _tables() == before


@pytest.mark.parametrize("status", [OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED, "lost"])
def test_a_new_order_cannot_start_refunded(shop, member, now, status):
    before = _tables()
    with pytest.raises(InvalidOrder) as exc:
        order_record(shop=shop, data=_order(paid_at=now, member_id=member.pk, status=status))
    assert exc.value.code == "invalid_status"
    assert _tables() == before


def test_an_unknown_member_id_is_refused_and_nothing_is_stored(shop, member, now):
    before = _tables()
    with pytest.raises(UnknownMember) as exc:
        order_record(shop=shop, data=_order(paid_at=now, member_id=member.pk + 1000))
    assert (exc.value.code, exc.value.status) == ("unknown_member", 400)
    assert _tables() == before


def test_another_shops_member_is_an_unknown_member(shop, other_shop, now):
    theirs, _ = member_enroll(shop=other_shop, data=Enrolment(phone="13800138000"))
    before = _tables()
    with pytest.raises(UnknownMember):
        order_record(shop=shop, data=_order(paid_at=now, member_id=theirs.pk))
    assert _tables() == before


def test_an_erased_member_is_an_unknown_member(shop, member, now):
    member_erase(shop=shop, member=member, actor=SYSTEM)
    with pytest.raises(UnknownMember):
        order_record(shop=shop, data=_order(paid_at=now, member_id=member.pk))
    assert Order.objects.count() == 0


def test_a_phone_of_another_shops_member_is_a_non_member_order(shop, other_shop, now):
    theirs, _ = member_enroll(shop=other_shop, data=Enrolment(phone="13800138000"))
    recorded = order_record(shop=shop, data=_order(paid_at=now, phone="+8613800138000"))
    assert recorded.order.member_id is None
    assert _aggregates(theirs)["order_count"] == 0


def test_a_new_cancelled_order_is_kept_but_not_counted(shop, member, now):
    order_record(shop=shop, data=_order(paid_at=now, member_id=member.pk, status=OrderStatus.CANCELLED))
    assert Order.objects.get().status == "cancelled"
    assert _aggregates(member) == {
        "lifetime_spend": Decimal("0.00"),
        "order_count": 0,
        "first_order_at": None,
        "last_order_at": None,
        "spend_12m": Decimal("0.00"),
        "orders_12m": 0,
    }


def test_a_new_completed_order_is_completed_when_paid(shop, member, now):
    recorded = order_record(shop=shop, data=_order(paid_at=now, member_id=member.pk, status=OrderStatus.COMPLETED))
    assert Order.objects.get().completed_at == now
    assert _aggregates(member)["order_count"] == 1
    assert recorded.order.status == "completed"


def test_the_first_result_of_a_completed_order_carries_its_completion_time(shop, now):
    recorded = order_record(shop=shop, data=_order(paid_at=now, status=OrderStatus.COMPLETED))
    assert recorded.order.completed_at == now


def test_a_batch_records_good_orders_and_names_each_bad_one(shop, member, now):
    # given: one order already recorded
    order_record(shop=shop, data=_order("OLD", paid_at=now, member_id=member.pk))
    batch = [
        _order("A", amount="10.00", paid_at=now, member_id=member.pk),  # new
        _order("OLD", paid_at=now, member_id=member.pk),  # replay of a recorded order
        _order("OLD", amount="1.00", paid_at=now, member_id=member.pk),  # recorded id, other content
        _order("B", paid_at=timezone.now() + timedelta(hours=1)),  # future
        _order("C", paid_at=now, member_id=member.pk + 999),  # unknown member
        _order("A", amount="10.00", paid_at=now, member_id=member.pk),  # same id twice, same body
        _order("D", amount="5.00", paid_at=now),  # new, anonymous
        _order("D", amount="6.00", paid_at=now),  # same id twice, other body
    ]

    results = orders_record(shop=shop, orders=batch)

    summary = [
        (r.created, r.order.external_id) if isinstance(r, Recorded) else (r.code, r.details.get("external_id"))
        for r in results
    ]
    assert summary == [
        (True, "A"),
        (False, "OLD"),
        ("order_conflict", "OLD"),
        ("paid_at_in_future", None),
        ("unknown_member", None),
        (False, "A"),
        (True, "D"),
        ("order_conflict", "D"),
    ]
    assert sorted(Order.objects.values_list("external_id", "amount")) == [
        ("A", Decimal("10.00")),
        ("D", Decimal("5.00")),
        ("OLD", Decimal("100.00")),
    ]
    assert _aggregates(member)["lifetime_spend"] == Decimal("110.00")
    assert _aggregates(member) == _recomputed(member)


def test_recording_pauses_the_garbage_collector_and_restores_it(shop, member, now, monkeypatch):
    seen = []
    real = orders_services._record
    monkeypatch.setattr(orders_services, "_record", lambda **kw: seen.append(gc.isenabled()) or real(**kw))
    batch = [_order(f"G{i}", paid_at=now, member_id=member.pk) for i in range(2)]

    orders_record(shop=shop, orders=batch)
    gc.disable()
    try:
        orders_record(shop=shop, orders=[_order("G9", paid_at=now)])  # a caller that turned it off keeps it off
        assert not gc.isenabled()
    finally:
        gc.enable()

    assert seen == [False, False]
    assert gc.isenabled()
    assert Order.objects.filter(external_id__startswith="G").count() == 3


def test_a_batch_sums_several_orders_of_one_member(shop, member, now):
    batch = [_order(f"B{i}", amount="1.10", paid_at=now - timedelta(days=i), member_id=member.pk) for i in range(50)]
    results = orders_record(shop=shop, orders=batch)
    assert all(isinstance(r, Recorded) and r.created for r in results)
    assert _aggregates(member) == {
        "lifetime_spend": Decimal("55.00"),
        "order_count": 50,
        "first_order_at": now - timedelta(days=49),
        "last_order_at": now,
        "spend_12m": Decimal("55.00"),
        "orders_12m": 50,
    }


def test_completing_a_paid_order_sets_completed_at_and_keeps_the_aggregates(shop, member, now):
    order = order_record(shop=shop, data=_order(paid_at=now, member_id=member.pk)).order
    before = _aggregates(member)

    changed = order_change_status(shop=shop, order=order, status=OrderStatus.COMPLETED)

    order.refresh_from_db()
    assert order.status == changed.status == "completed"
    assert abs(timezone.now() - order.completed_at) < timedelta(seconds=5)
    assert _aggregates(member) == before


def test_completing_twice_changes_nothing_the_second_time(shop, now):
    order = order_record(shop=shop, data=_order(paid_at=now)).order
    order_change_status(shop=shop, order=order, status=OrderStatus.COMPLETED)
    completed_at = Order.objects.get().completed_at
    order_change_status(shop=shop, order=order, status=OrderStatus.COMPLETED)
    assert Order.objects.get().completed_at == completed_at


def test_cancelling_a_paid_order_removes_it_from_the_members_spend_and_count(shop, member, now):
    order_record(shop=shop, data=_order("KEEP", amount="40.00", paid_at=now - timedelta(days=2), member_id=member.pk))
    order = order_record(shop=shop, data=_order("GO", amount="60.00", paid_at=now, member_id=member.pk)).order

    order_change_status(shop=shop, order=order, status=OrderStatus.CANCELLED)

    assert Order.objects.get(pk=order.pk).status == "cancelled"
    aggregates = _aggregates(member)
    assert (aggregates["lifetime_spend"], aggregates["order_count"]) == (Decimal("40.00"), 1)
    assert (aggregates["spend_12m"], aggregates["orders_12m"]) == (Decimal("40.00"), 1)


def test_cancelling_the_latest_order_moves_last_order_at_back(shop, member, now):
    order_record(shop=shop, data=_order("KEEP", paid_at=now - timedelta(days=2), member_id=member.pk))
    order = order_record(shop=shop, data=_order("GO", paid_at=now, member_id=member.pk)).order
    order_change_status(shop=shop, order=order, status=OrderStatus.CANCELLED)
    assert _aggregates(member) == _recomputed(member)


def test_cancelling_an_old_order_leaves_the_12_month_figures(shop, member, now):
    order = order_record(
        shop=shop, data=_order(amount="70.00", paid_at=now - timedelta(days=500), member_id=member.pk)
    ).order
    order_change_status(shop=shop, order=order, status=OrderStatus.CANCELLED)
    aggregates = _aggregates(member)
    assert (aggregates["lifetime_spend"], aggregates["order_count"]) == (Decimal("0.00"), 0)
    assert (aggregates["spend_12m"], aggregates["orders_12m"]) == (Decimal("0.00"), 0)


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("cancelled", OrderStatus.COMPLETED),
        ("completed", OrderStatus.CANCELLED),
        ("refunded", OrderStatus.COMPLETED),
        ("refunded", OrderStatus.CANCELLED),
        ("partially_refunded", OrderStatus.CANCELLED),
        ("paid", OrderStatus.PAID),
        ("paid", OrderStatus.REFUNDED),
    ],
)
def test_invalid_status_changes_are_refused_and_change_nothing(shop, member, now, start, target):
    order = order_record(shop=shop, data=_order(paid_at=now, member_id=member.pk)).order
    if start == "cancelled":
        order_change_status(shop=shop, order=order, status=OrderStatus.CANCELLED)
    elif start == "completed":
        order_change_status(shop=shop, order=order, status=OrderStatus.COMPLETED)
    elif start == "refunded":
        refund_record(shop=shop, order=order, data=RefundInput(external_id="R", amount=Decimal("100.00")))
    elif start == "partially_refunded":
        refund_record(shop=shop, order=order, data=RefundInput(external_id="R", amount=Decimal("1.00")))
    before = _tables()

    if start == target:
        order_change_status(shop=shop, order=order, status=target)  # the same status is a no-op, not an error
    else:
        with pytest.raises(InvalidStatusChange) as exc:
            order_change_status(shop=shop, order=order, status=target)
        assert (exc.value.code, exc.value.status, exc.value.details) == (
            "invalid_status_change",
            409,
            {"from": start, "to": target},
        )
    assert _tables() == before


def test_a_partially_refunded_order_can_still_complete(shop, now):
    order = order_record(shop=shop, data=_order(paid_at=now)).order
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R", amount=Decimal("1.00")))
    order_change_status(shop=shop, order=order, status=OrderStatus.COMPLETED)
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == ("completed", Decimal("1.00"))


def test_partial_then_full_refunds_follow_the_order_and_the_aggregates(shop, member, now):
    # given: two orders, 100.00 and 50.00
    order_record(shop=shop, data=_order("KEEP", amount="50.00", paid_at=now - timedelta(days=1), member_id=member.pk))
    order = order_record(shop=shop, data=_order("O1", amount="100.00", paid_at=now, member_id=member.pk)).order

    # when: 30.00 is refunded
    partial = refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("30.00")))

    # then
    assert partial.created is True
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == ("partially_refunded", Decimal("30.00"))
    aggregates = _aggregates(member)
    assert (aggregates["lifetime_spend"], aggregates["order_count"]) == (Decimal("120.00"), 2)
    assert (aggregates["spend_12m"], aggregates["orders_12m"]) == (Decimal("120.00"), 2)

    # when: the remaining 70.00 is refunded
    full = refund_record(shop=shop, order=order, data=RefundInput(external_id="R2", amount=Decimal("70.00")))

    # then: the order no longer counts at all
    assert full.created is True
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == ("refunded", Decimal("100.00"))
    aggregates = _aggregates(member)
    assert (aggregates["lifetime_spend"], aggregates["order_count"]) == (Decimal("50.00"), 1)
    assert (aggregates["spend_12m"], aggregates["orders_12m"]) == (Decimal("50.00"), 1)
    assert sorted(Refund.objects.values_list("external_id", "amount", "order_id", "shop_id")) == [
        ("R1", Decimal("30.00"), order.pk, shop.pk),
        ("R2", Decimal("70.00"), order.pk, shop.pk),
    ]
    # and the nightly refresh agrees with the running 12-month figures
    assert member_windows_refresh(shop=shop, counted_statuses=COUNTED_STATUSES) == 0


def test_a_refund_of_an_old_order_leaves_the_12_month_figures(shop, member, now):
    old = order_record(
        shop=shop, data=_order("OLD", amount="80.00", paid_at=now - timedelta(days=400), member_id=member.pk)
    ).order
    order_record(shop=shop, data=_order("NEW", amount="20.00", paid_at=now, member_id=member.pk))
    refund_record(shop=shop, order=old, data=RefundInput(external_id="R1", amount=Decimal("80.00")))
    aggregates = _aggregates(member)
    assert (aggregates["lifetime_spend"], aggregates["order_count"]) == (Decimal("20.00"), 1)
    assert (aggregates["spend_12m"], aggregates["orders_12m"]) == (Decimal("20.00"), 1)


def test_a_refund_replay_returns_the_first_refund_and_changes_nothing(shop, member, now):
    order = order_record(shop=shop, data=_order(paid_at=now, member_id=member.pk)).order
    first = refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("30.00")))
    before = _tables()

    again = refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("30.00")))

    assert (again.created, again.refund.pk) == (False, first.refund.pk)
    assert _tables() == before


def test_a_refund_id_with_another_amount_is_a_conflict_and_changes_nothing(shop, member, now):
    order = order_record(shop=shop, data=_order(paid_at=now, member_id=member.pk)).order
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("30.00")))
    before = _tables()
    with pytest.raises(RefundConflict) as exc:
        refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("31.00")))
    assert (exc.value.code, exc.value.status) == ("refund_conflict", 409)
    assert _tables() == before


def test_a_refund_id_reused_on_another_order_is_a_conflict(shop, now):
    first = order_record(shop=shop, data=_order("O1", paid_at=now)).order
    second = order_record(shop=shop, data=_order("O2", paid_at=now)).order
    refund_record(shop=shop, order=first, data=RefundInput(external_id="R1", amount=Decimal("30.00")))
    before = _tables()
    with pytest.raises(RefundConflict):
        refund_record(shop=shop, order=second, data=RefundInput(external_id="R1", amount=Decimal("30.00")))
    assert _tables() == before


@pytest.mark.parametrize("amount", ["100.01", "70.01", "0.00", "-1.00"])
def test_a_refund_above_what_is_left_is_refused_and_changes_nothing(shop, member, now, amount):
    order = order_record(shop=shop, data=_order(paid_at=now, member_id=member.pk)).order
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R0", amount=Decimal("30.00")))
    before = _tables()
    with pytest.raises(RefundExceedsOrder) as exc:
        refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal(amount)))
    assert (exc.value.code, exc.value.status) == ("refund_exceeds_order", 400)
    assert exc.value.details == {"amount": amount, "refundable": "70.00"}
    assert _tables() == before


def test_a_cancelled_order_cannot_be_refunded(shop, member, now):
    order = order_record(shop=shop, data=_order(paid_at=now, member_id=member.pk)).order
    order_change_status(shop=shop, order=order, status=OrderStatus.CANCELLED)
    before = _tables()
    with pytest.raises(InvalidStatusChange):
        refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("1.00")))
    assert _tables() == before


def test_a_refund_of_a_non_member_order_touches_no_member(shop, member, now):
    order = order_record(shop=shop, data=_order(paid_at=now)).order
    before = _aggregates(member)
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("100.00")))
    assert Order.objects.get().status == "refunded"
    assert _aggregates(member) == before


def test_orders_and_refunds_of_one_shop_leave_the_other_shops_members_alone(shop, other_shop, member, now):
    theirs, _ = member_enroll(shop=other_shop, data=Enrolment(phone="13800138000"))
    order_record(shop=other_shop, data=_order("O1", amount="5.00", paid_at=now, member_id=theirs.pk))
    order = order_record(shop=shop, data=_order("O1", amount="7.00", paid_at=now, member_id=member.pk)).order
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("2.00")))
    assert _aggregates(member)["lifetime_spend"] == Decimal("5.00")
    assert _aggregates(theirs)["lifetime_spend"] == Decimal("5.00")
    assert Order.objects.get(shop=other_shop).refunded_amount == Decimal("0.00")


def test_fully_refunding_the_latest_order_moves_last_order_at_back(shop, member, now):
    order_record(shop=shop, data=_order("KEEP", paid_at=now - timedelta(days=2), member_id=member.pk))
    order = order_record(shop=shop, data=_order("GO", paid_at=now, member_id=member.pk)).order
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("100.00")))
    assert _aggregates(member) == _recomputed(member)


def test_a_repeated_refused_order_in_a_batch_repeats_its_error(shop, now):
    bad = _order("C", paid_at=now, member_id=424242)
    results = orders_record(shop=shop, orders=[bad, bad])
    assert [r.code for r in results] == ["unknown_member", "unknown_member"]
