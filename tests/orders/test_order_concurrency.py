"""Races on real PostgreSQL connections (one per thread): orders, refunds, batches and enrolments recorded exactly
once, members' aggregates equal to a recomputation from the orders table, and no deadlock or database error."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Max, Min
from django.utils import timezone
from rest_framework.test import APIClient

from members.models import ConsentChange, Member
from members.services import Enrolment, member_enroll
from orders.errors import InvalidStatusChange, RefundExceedsOrder
from orders.models import COUNTED_STATUSES, Order, OrderItem, OrderStatus, Refund
from orders.services import (
    ItemInput,
    OrderInput,
    Recorded,
    RefundInput,
    RefundRecorded,
    order_change_status,
    order_record,
    orders_record,
    refund_record,
)
from shops.errors import ApplicationError
from shops.models import Shop
from shops.tenancy import shop_scope
from tests.concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

AGGREGATES = ("lifetime_spend", "order_count", "first_order_at", "last_order_at", "spend_12m", "orders_12m")


def _in_shop(shop, work):
    """A worker as an interface runs it: a new thread has no scope, so it enters the shop's."""

    def scoped():
        with shop_scope(shop):
            return work()

    return scoped


def _aggregates(member: Member) -> dict:
    return dict(zip(AGGREGATES, Member.objects.filter(pk=member.pk).values_list(*AGGREGATES).get(), strict=True))


def _recomputed(member: Member) -> dict:
    since = timezone.now() - timedelta(days=365)
    counted = Order.objects.filter(member=member, status__in=COUNTED_STATUSES)
    rows = list(counted.values_list("amount", "refunded_amount", "paid_at"))
    recent = [r for r in rows if r[2] >= since]
    span = counted.aggregate(first=Min("paid_at"), last=Max("paid_at"))
    return {
        "lifetime_spend": sum((a - r for a, r, _p in rows), Decimal("0.00")),
        "order_count": len(rows),
        "first_order_at": span["first"],
        "last_order_at": span["last"],
        "spend_12m": sum((a - r for a, r, _p in recent), Decimal("0.00")),
        "orders_12m": len(recent),
    }


def _errors(results: list) -> list:
    return [r for r in results if isinstance(r, Exception)]


@pytest.fixture
def member(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    return member


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def test_32_threads_recording_the_same_new_order_record_it_once(shop, member, now):
    data = OrderInput(
        external_id="TB001",
        member_id=member.pk,
        amount=Decimal("268.00"),
        paid_at=now,
        items=(ItemInput(sku="MB-001", quantity=2, unit_price=Decimal("134.00")),),
    )

    results = race([_in_shop(shop, lambda: order_record(shop=shop, data=data)) for _ in range(32)])

    assert _errors(results) == []
    assert [r.created for r in results].count(True) == 1
    order = Order.objects.get(shop=shop)
    assert {r.order.pk for r in results} == {order.pk}
    assert OrderItem.objects.filter(order=order).count() == 1
    assert _aggregates(member) == {
        "lifetime_spend": Decimal("268.00"),
        "order_count": 1,
        "first_order_at": now,
        "last_order_at": now,
        "spend_12m": Decimal("268.00"),
        "orders_12m": 1,
    }


def test_16_api_clients_posting_the_same_order_get_one_201_and_the_same_body(shop, api_key, member, now):
    _key, secret = api_key
    body = {
        "external_id": "TB001",
        "member_id": member.pk,
        "amount": "99.90",
        "paid_at": timezone.localtime(now).isoformat(),
        "items": [{"sku": "S1", "name": "", "category": "", "quantity": 1, "unit_price": "99.90"}],
    }

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        response = client.post("/api/v1/orders/", body, format="json")
        return response.status_code, response.json()

    results = race([post for _ in range(16)])

    assert _errors(results) == []
    statuses = sorted(status for status, _body in results)
    assert statuses == [200] * 15 + [201]
    assert len({str(sorted(b.items())) for _status, b in results}) == 1
    assert Order.objects.filter(shop=shop).count() == 1
    assert _aggregates(member)["lifetime_spend"] == Decimal("99.90")
    assert _aggregates(member)["order_count"] == 1


def test_concurrent_different_orders_of_one_member_all_count(shop, member, now):
    def record(i):
        data = OrderInput(
            external_id=f"O{i:02}", member_id=member.pk, amount=Decimal("10.01"), paid_at=now - timedelta(hours=i)
        )
        return order_record(shop=shop, data=data)

    results = race([_in_shop(shop, lambda i=i: record(i)) for i in range(24)])

    assert _errors(results) == []
    assert all(r.created for r in results)
    assert _aggregates(member) == _recomputed(member)
    assert _aggregates(member)["lifetime_spend"] == Decimal("240.24")


def test_16_threads_refunding_the_same_refund_id_record_one_refund(shop, member, now):
    order = order_record(
        shop=shop, data=OrderInput(external_id="TB001", member_id=member.pk, amount=Decimal("100.00"), paid_at=now)
    ).order
    data = RefundInput(external_id="R1", amount=Decimal("40.00"))

    results = race([_in_shop(shop, lambda: refund_record(shop=shop, order=order, data=data)) for _ in range(16)])

    assert _errors(results) == []
    assert all(isinstance(r, RefundRecorded) for r in results)
    assert [r.created for r in results].count(True) == 1
    refund = Refund.objects.get(shop=shop)
    assert {r.refund.pk for r in results} == {refund.pk}
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (Decimal("40.00"), "partially_refunded")
    assert _aggregates(member)["lifetime_spend"] == Decimal("60.00")
    assert _aggregates(member) == _recomputed(member)


def test_one_refund_id_raced_across_two_orders_is_one_refund_and_clear_conflicts(shop, member, now):
    orders = [
        order_record(
            shop=shop, data=OrderInput(external_id=f"O{i}", member_id=member.pk, amount=Decimal("20.00"), paid_at=now)
        ).order
        for i in range(2)
    ]
    data = RefundInput(external_id="R1", amount=Decimal("5.00"))

    results = race([_in_shop(shop, lambda o=o: refund_record(shop=shop, order=o, data=data)) for o in orders * 8])

    refund = Refund.objects.get(shop=shop)
    assert all(isinstance(e, ApplicationError) and e.code == "refund_conflict" for e in _errors(results)), _errors(
        results
    )
    winners = [r for r in results if isinstance(r, RefundRecorded)]
    assert {r.refund.pk for r in winners} == {refund.pk}
    assert [r.created for r in winners].count(True) == 1
    assert len(winners) == 8  # every call on the winning order; the other order's calls are conflicts
    assert sorted(Order.objects.filter(shop=shop).values_list("refunded_amount", flat=True)) == [
        Decimal("0.00"),
        Decimal("5.00"),
    ]
    assert _aggregates(member) == _recomputed(member)


def test_concurrent_distinct_refunds_never_refund_more_than_the_order(shop, member, now):
    order = order_record(
        shop=shop, data=OrderInput(external_id="TB001", member_id=member.pk, amount=Decimal("100.00"), paid_at=now)
    ).order

    results = race(
        [
            _in_shop(
                shop,
                lambda i=i: refund_record(
                    shop=shop, order=order, data=RefundInput(external_id=f"R{i}", amount=Decimal("30.00"))
                ),
            )
            for i in range(16)
        ]
    )

    assert [isinstance(r, RefundRecorded) for r in results].count(True) == 3
    assert all(isinstance(e, RefundExceedsOrder) for e in _errors(results)), _errors(results)
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (Decimal("90.00"), "partially_refunded")
    assert Refund.objects.filter(order=order).count() == 3
    assert _aggregates(member)["lifetime_spend"] == Decimal("10.00")
    assert _aggregates(member) == _recomputed(member)


def test_cancel_racing_full_refunds_leaves_one_consistent_outcome(shop, member, now):
    order = order_record(
        shop=shop, data=OrderInput(external_id="TB001", member_id=member.pk, amount=Decimal("50.00"), paid_at=now)
    ).order

    def cancel():
        return order_change_status(shop=shop, order=order, status=OrderStatus.CANCELLED)

    def refund(i):
        return refund_record(shop=shop, order=order, data=RefundInput(external_id=f"R{i}", amount=Decimal("50.00")))

    workers = [_in_shop(shop, cancel) for _ in range(6)] + [_in_shop(shop, lambda i=i: refund(i)) for i in range(6)]
    results = race(workers)

    assert all(isinstance(e, InvalidStatusChange | RefundExceedsOrder) for e in _errors(results)), _errors(results)
    order.refresh_from_db()
    refunds = Refund.objects.filter(order=order).count()
    assert (order.status, refunds, order.refunded_amount) in {
        ("cancelled", 0, Decimal("0.00")),
        ("refunded", 1, Decimal("50.00")),
    }
    aggregates = _aggregates(member)
    assert (aggregates["lifetime_spend"], aggregates["order_count"]) == (Decimal("0.00"), 0)
    assert (aggregates["spend_12m"], aggregates["orders_12m"]) == (Decimal("0.00"), 0)


def _pool(members: list[Member], now, size: int) -> list[OrderInput]:
    """`size` distinct orders spread over `members`, some by member id, some by phone, a few anonymous."""
    pool = []
    for i in range(size):
        buyer = members[i % len(members)]
        fields = {"member_id": buyer.pk} if i % 3 else {"phone": buyer.phone}
        if i % 17 == 0:
            fields = {}
        pool.append(
            OrderInput(
                external_id=f"E{i:04}",
                amount=Decimal(f"{1 + i % 50}.{i % 100:02}"),
                paid_at=now - timedelta(days=i % 500, minutes=i),
                items=(ItemInput(sku=f"S{i % 7}", quantity=1 + i % 3, unit_price=Decimal("1.00")),),
                **fields,
            )
        )
    return pool


def test_8_overlapping_bulk_batches_record_every_order_once_without_deadlock(shop, now):
    # given: 12 members and 300 orders among them; 8 batches of 150 orders drawn from the pool, each shuffled,
    # so batches share external ids and members and meet them in different orders
    members = [member_enroll(shop=shop, data=Enrolment(phone=f"1380013{8000 + i}"))[0] for i in range(12)]
    pool = _pool(members, now, 300)
    rng = random.Random(20261123)
    batches = [rng.sample(pool, 150) for _ in range(8)]
    distinct = {o.external_id for batch in batches for o in batch}

    # when
    results = race([_in_shop(shop, lambda b=b: orders_record(shop=shop, orders=b)) for b in batches])

    # then: no batch failed, every result is a recorded order, and each distinct id was created exactly once
    assert _errors(results) == []
    outcomes = [r for batch in results for r in batch]
    assert all(isinstance(r, Recorded) for r in outcomes), [r for r in outcomes if not isinstance(r, Recorded)][:5]
    created = sorted(r.order.external_id for r in outcomes if r.created)
    assert created == sorted(distinct)
    assert Order.objects.filter(shop=shop).count() == len(distinct)
    assert OrderItem.objects.filter(shop=shop).count() == len(distinct)
    for m in members:
        assert _aggregates(m) == _recomputed(m), m.pk
    assert sum(_aggregates(m)["order_count"] for m in members) == Order.objects.exclude(member=None).count()


def test_overlapping_batches_with_join_on_purchase_enrol_each_buyer_once(shop, now):
    Shop.objects.filter(pk=shop.pk).update(join_on_purchase=True)
    shop.refresh_from_db()
    phones = [f"+861390013{9000 + i}" for i in range(10)]
    pool = [
        OrderInput(
            external_id=f"J{i:03}",
            phone=phones[i % len(phones)],
            amount=Decimal("12.50"),
            paid_at=now - timedelta(minutes=i),
        )
        for i in range(120)
    ]
    rng = random.Random(7)
    batches = [rng.sample(pool, 60) for _ in range(8)]
    distinct = {o.external_id for batch in batches for o in batch}

    results = race([_in_shop(shop, lambda b=b: orders_record(shop=shop, orders=b)) for b in batches])

    assert _errors(results) == []
    outcomes = [r for batch in results for r in batch]
    assert all(isinstance(r, Recorded) for r in outcomes)
    buyers = list(Member.objects.filter(shop=shop))
    assert sorted(b.phone for b in buyers) == sorted({o.phone for o in pool if o.external_id in distinct})
    assert {b.join_channel for b in buyers} == {"purchase"}
    assert Order.objects.filter(shop=shop, member=None).count() == 0
    assert Order.objects.filter(shop=shop).count() == len(distinct)
    for buyer in buyers:
        assert _aggregates(buyer) == _recomputed(buyer), buyer.phone


@pytest.mark.parametrize("threads", [16])
def test_concurrent_enrolment_of_one_phone_makes_one_member(shop, threads):
    formats = ["13800138000", "+86 13800138000", "8613800138000", "138 0013 8000"]

    def enrol(i):
        data = Enrolment(phone=formats[i % len(formats)], name=f"客{i}", consents={"sms": True})
        return member_enroll(shop=shop, data=data)

    results = race([_in_shop(shop, lambda i=i: enrol(i)) for i in range(threads)])

    assert _errors(results) == []
    member = Member.objects.get(shop=shop)
    assert member.phone == "+8613800138000"
    assert {m.pk for m, _created in results} == {member.pk}
    assert [created for _m, created in results].count(True) == 1
    # only the winner's data and consent evidence were stored
    winner = next(i for i, (_m, created) in enumerate(results) if created)
    assert member.name == f"客{winner}"
    assert list(ConsentChange.objects.filter(member=member).values_list("channel", "granted")) == [("sms", True)]


def test_concurrent_api_enrolment_of_one_phone_answers_one_201(shop, api_key):
    _key, secret = api_key

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        response = client.post("/api/v1/members/", {"phone": "+86 138 0013 8000"}, format="json")
        return response.status_code, response.json()["id"]

    results = race([post for _ in range(16)])

    assert _errors(results) == []
    assert sorted(status for status, _id in results) == [200] * 15 + [201]
    assert {pk for _status, pk in results} == {Member.objects.get(shop=shop).pk}


def test_a_race_never_leaks_an_application_error_as_a_database_error(shop, member, now):
    """Mixed traffic on one member: orders, replays, conflicts and refunds at once. Every failure is a domain
    error (never IntegrityError, deadlock or serialization failure), and the aggregates add up."""
    base = order_record(
        shop=shop, data=OrderInput(external_id="BASE", member_id=member.pk, amount=Decimal("500.00"), paid_at=now)
    ).order

    def new_order(i):
        return order_record(
            shop=shop,
            data=OrderInput(
                external_id=f"N{i % 4}", member_id=member.pk, amount=Decimal(f"{10 + i % 2}.00"), paid_at=now
            ),
        )

    def refund(i):
        return refund_record(shop=shop, order=base, data=RefundInput(external_id=f"R{i % 3}", amount=Decimal("7.00")))

    workers = [_in_shop(shop, lambda i=i: new_order(i)) for i in range(12)]
    workers += [_in_shop(shop, lambda i=i: refund(i)) for i in range(12)]
    results = race(workers)

    errors = _errors(results)
    assert all(isinstance(e, ApplicationError) for e in errors), errors
    assert {e.code for e in errors} <= {"order_conflict"}
    assert Order.objects.filter(shop=shop).count() == 5
    assert Refund.objects.filter(shop=shop).count() == 3
    assert _aggregates(member) == _recomputed(member)
