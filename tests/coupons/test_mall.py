"""The points mall: a coupon or a gift bought with points in one transaction with the ledger (all or nothing),
retries and conflicts, fulfilment and cancellation (points and stock given back), the gift catalogue, and races on
PostgreSQL."""

import datetime
import zoneinfo

import pytest
import time_machine

from coupons.errors import IdempotencyConflict, LimitReached, NotIssuable, OutOfStock
from coupons.mall import (
    InvalidExchange,
    InvalidFulfilment,
    InvalidGift,
    NotOnOffer,
    gift_save,
    gift_set_active,
    mall_cancel,
    mall_deliver,
    mall_exchange,
    mall_queue,
    mall_ship,
)
from coupons.models import Coupon, CouponTemplate, Exchange, Fulfilment, Gift, Source
from coupons.services import template_set_status
from members.models import Member
from members.services import member_set_frozen
from points.errors import InsufficientPoints
from points.models import EntryKind, PointsEntry, PointsLot
from points.selectors import points_reconcile
from points.services import RefundRefused, points_earn, points_redeem, points_refund
from shops.models import AuditLogEntry
from shops.services import SYSTEM
from tests.concurrency import in_scope, race
from tiers.models import Tier

from .helpers import make_member, make_template

ADDRESS = {"recipient_name": "张三", "recipient_phone": "13800138000", "address": "上海市黄浦区南京东路1号"}
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def rich_member(shop, n=0, points=1000):
    member = make_member(shop, n, name=f"会员{n}")
    points_earn(shop=shop, member=member, points=points, idempotency_key=f"seed-{n}")
    return Member.objects.get(pk=member.pk)


def balance(member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def make_gift(shop, **fields):
    data = {"name": "保温杯", "points_price": 300, "stock": 5}
    data.update(fields)
    return gift_save(shop=shop, actor=SYSTEM, **data)


def state(shop):
    """Everything an exchange writes, to check that a refusal wrote none of it."""
    return {
        "balances": list(Member.objects.filter(shop=shop).order_by("pk").values_list("pk", "points_balance")),
        "entries": PointsEntry.objects.filter(shop=shop).count(),
        "lots": list(PointsLot.objects.filter(shop=shop).order_by("pk").values_list("pk", "remaining")),
        "gifts": list(Gift.objects.filter(shop=shop).order_by("pk").values_list("pk", "issued")),
        "templates": list(CouponTemplate.objects.filter(shop=shop).order_by("pk").values_list("pk", "issued")),
        "coupons": Coupon.objects.filter(shop=shop).count(),
        "exchanges": list(Exchange.objects.filter(shop=shop).order_by("pk").values()),
    }


# --- Exchanging ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_coupon_exchange_takes_exactly_its_price_and_puts_the_coupon_in_the_wallet(shop):
    template = make_template(shop, points_price=200)
    member = rich_member(shop, points=500)

    exchange, created = mall_exchange(shop=shop, member=member, template=template, idempotency_key="x1")

    assert created is True
    assert (exchange.status, exchange.points, exchange.template_id, exchange.gift_id) == (
        "done",
        200,
        template.pk,
        None,
    )
    assert balance(member) == 300
    entry = exchange.points_entry
    assert (entry.kind, entry.points, entry.idempotency_key, entry.member_id) == ("redeem", -200, "mall#x1", member.pk)
    coupon = Coupon.objects.get(shop=shop, member=member)
    assert exchange.coupon_id == coupon.pk
    assert (coupon.source, coupon.status, coupon.idempotency_key) == (Source.POINTS_EXCHANGE, "available", "mall#x1")
    assert CouponTemplate.objects.get(pk=template.pk).issued == 1
    assert (exchange.address, exchange.recipient_name) == ("", "")
    assert points_reconcile(shop=shop) == []


@pytest.mark.django_db
def test_a_gift_exchange_takes_exactly_its_price_and_one_unit_of_stock(shop):
    gift = make_gift(shop, points_price=300, stock=5)
    member = rich_member(shop, points=500)

    exchange, created = mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="g1", **ADDRESS)

    assert created is True
    assert (exchange.status, exchange.points, exchange.gift_id, exchange.coupon_id) == ("pending", 300, gift.pk, None)
    assert (exchange.recipient_name, exchange.recipient_phone, exchange.address) == (
        "张三",
        "13800138000",
        "上海市黄浦区南京东路1号",
    )
    assert balance(member) == 200
    assert exchange.points_entry.points == -300
    assert Gift.objects.get(pk=gift.pk).issued == 1
    assert Coupon.objects.filter(shop=shop).count() == 0
    assert points_reconcile(shop=shop) == []


@pytest.mark.django_db
def test_without_enough_points_nothing_is_written(shop):
    gift = make_gift(shop, points_price=300)
    template = make_template(shop, points_price=300)
    member = rich_member(shop, points=299)
    before = state(shop)

    with pytest.raises(InsufficientPoints):
        mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="g1", **ADDRESS)
    with pytest.raises(InsufficientPoints):
        mall_exchange(shop=shop, member=member, template=template, idempotency_key="c1")

    assert state(shop) == before
    assert balance(member) == 299


@pytest.mark.django_db
def test_an_exhausted_gift_leaves_the_points_untouched(shop):
    gift = make_gift(shop, points_price=100, stock=1)
    first, second = rich_member(shop, 1, points=500), rich_member(shop, 2, points=500)
    mall_exchange(shop=shop, member=first, gift=gift, idempotency_key="g1", **ADDRESS)
    before = state(shop)

    with pytest.raises(OutOfStock) as refused:
        mall_exchange(shop=shop, member=second, gift=gift, idempotency_key="g2", **ADDRESS)

    assert str(refused.value.message) == "This gift has run out."
    assert state(shop) == before
    assert (balance(first), balance(second)) == (400, 500)
    assert Gift.objects.get(pk=gift.pk).issued == 1


@pytest.mark.django_db
def test_a_coupons_stock_and_per_member_limit_refuse_and_leave_the_points(shop):
    limited = make_template(shop, points_price=100, per_member_limit=1)
    scarce = make_template(shop, name="限量", points_price=100, stock=1, per_member_limit=5)
    member, other = rich_member(shop, 1), rich_member(shop, 2)
    mall_exchange(shop=shop, member=member, template=limited, idempotency_key="a")
    mall_exchange(shop=shop, member=other, template=scarce, idempotency_key="b")
    before = state(shop)

    with pytest.raises(LimitReached):
        mall_exchange(shop=shop, member=member, template=limited, idempotency_key="c")
    with pytest.raises(OutOfStock):
        mall_exchange(shop=shop, member=member, template=scarce, idempotency_key="d")

    assert state(shop) == before
    assert balance(member) == 900


@pytest.mark.django_db
def test_rewards_not_on_offer_are_refused_and_nothing_is_written(shop):
    unpriced = make_template(shop, name="不卖")
    paused = make_template(shop, name="暂停", points_price=10)
    template_set_status(shop=shop, actor=SYSTEM, template=paused, status="paused")
    hidden = make_gift(shop, name="下架")
    gift_set_active(shop=shop, actor=SYSTEM, gift=hidden, active=False)
    tiers_only = make_template(
        shop,
        name="等级专享",
        points_price=10,
        audience="tiers",
        audience_tiers=[Tier.objects.get(shop=shop, rank=1).pk],
    )
    member = rich_member(shop)
    before = state(shop)

    for template in (unpriced, paused):
        with pytest.raises(NotOnOffer):
            mall_exchange(shop=shop, member=member, template=template, idempotency_key=f"t{template.pk}")
    with pytest.raises(NotOnOffer):
        mall_exchange(shop=shop, member=member, gift=hidden, idempotency_key="h", **ADDRESS)
    with pytest.raises(NotIssuable):
        mall_exchange(shop=shop, member=member, template=tiers_only, idempotency_key="tiers")

    assert state(shop) == before


@pytest.mark.django_db
def test_a_gift_needs_a_shipping_address_and_a_frozen_member_cannot_spend(shop):
    gift = make_gift(shop)
    member = rich_member(shop)
    before = state(shop)

    with pytest.raises(InvalidExchange) as refused:
        mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="g", recipient_name="张三", address="  ")
    assert refused.value.details == {"address": "A gift is shipped: give the shipping address."}
    with pytest.raises(InvalidExchange) as too_long:
        mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="g", address="路" * 201)
    assert list(too_long.value.details) == ["address"]
    member_set_frozen(shop=shop, actor=SYSTEM, member=member, frozen=True)
    with pytest.raises(InvalidExchange) as frozen:
        mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="g", **ADDRESS)
    assert frozen.value.code == "member_not_active"

    assert state(shop) == before


@pytest.mark.django_db
def test_a_replay_returns_the_first_exchange_and_other_content_under_the_key_is_a_conflict(shop):
    gift = make_gift(shop)
    other_gift = make_gift(shop, name="雨伞")
    member, other_member = rich_member(shop), rich_member(shop, 2)
    first, created = mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="k", **ADDRESS)
    after_first = state(shop)

    again, created_again = mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="k", **ADDRESS)
    assert (again.pk, created, created_again) == (first.pk, True, False)
    with pytest.raises(IdempotencyConflict):
        mall_exchange(shop=shop, member=member, gift=other_gift, idempotency_key="k", **ADDRESS)
    with pytest.raises(IdempotencyConflict):
        mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="k", **{**ADDRESS, "address": "别处"})
    with pytest.raises(IdempotencyConflict):
        mall_exchange(shop=shop, member=other_member, gift=gift, idempotency_key="k", **ADDRESS)

    assert state(shop) == after_first
    assert balance(member) == 700
    assert Gift.objects.get(pk=gift.pk).issued == 1


@pytest.mark.django_db
def test_a_replay_after_the_gift_ran_out_still_returns_the_first_exchange(shop):
    gift = make_gift(shop, stock=1)
    member = rich_member(shop)
    first, _ = mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="k", **ADDRESS)
    assert mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="k", **ADDRESS) == (first, False)


@pytest.mark.django_db
def test_the_same_key_in_two_shops_is_two_exchanges(shop, other_shop):
    gift, other_gift = make_gift(shop), make_gift(other_shop)
    member, other_member = rich_member(shop), rich_member(other_shop)
    mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="k", **ADDRESS)
    _, created = mall_exchange(shop=other_shop, member=other_member, gift=other_gift, idempotency_key="k", **ADDRESS)
    assert created is True
    assert (balance(member), balance(other_member)) == (700, 700)


# --- Fulfilment ------------------------------------------------------------------------------------------------------


@pytest.fixture
def pending(shop):
    gift = make_gift(shop, points_price=300, stock=5)
    member = rich_member(shop, points=500)
    return mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="g", **ADDRESS)[0]


@pytest.mark.django_db
def test_a_gift_is_shipped_with_a_tracking_number_then_delivered_each_step_audited(shop, pending):
    with pytest.raises(InvalidExchange):
        mall_ship(shop=shop, exchange=pending, tracking_number="  ")
    with pytest.raises(InvalidFulfilment):
        mall_deliver(shop=shop, exchange=pending)
    assert Exchange.objects.get(pk=pending.pk).status == "pending"

    mall_ship(shop=shop, exchange=pending, tracking_number=" SF1234567890 ")
    shipped = Exchange.objects.get(pk=pending.pk)
    assert (shipped.status, shipped.tracking_number) == ("shipped", "SF1234567890")
    with pytest.raises(InvalidFulfilment) as twice:
        mall_ship(shop=shop, exchange=pending, tracking_number="SF0")
    assert str(twice.value.message) == "This gift has already been shipped."
    mall_deliver(shop=shop, exchange=pending)

    assert Exchange.objects.get(pk=pending.pk).status == "delivered"
    audits = AuditLogEntry.objects.filter(shop=shop, action__startswith="mall_exchange.").order_by("pk")
    assert [(a.action, a.changes) for a in audits] == [
        ("mall_exchange.shipped", {"status": ["pending", "shipped"], "tracking_number": ["", "SF1234567890"]}),
        ("mall_exchange.delivered", {"status": ["shipped", "delivered"]}),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("shipped", [False, True])
def test_cancelling_a_gift_gives_back_the_points_and_the_stock(shop, pending, shipped):
    if shipped:
        mall_ship(shop=shop, exchange=pending, tracking_number="SF1")

    cancelled = mall_cancel(shop=shop, exchange=pending, reason="缺货")

    assert cancelled.status == "cancelled"
    assert balance(pending.member) == 500
    assert Gift.objects.get(pk=pending.gift_id).issued == 0
    refund = Exchange.objects.get(pk=pending.pk).refund_entry
    assert (refund.kind, refund.points, refund.reverses_id, refund.idempotency_key) == (
        EntryKind.REVERSE,
        300,
        pending.points_entry_id,
        f"mall#refund#{pending.pk}",
    )
    assert refund.reason == "Points mall: 保温杯 cancelled · 缺货"
    assert AuditLogEntry.objects.get(shop=shop, action="mall_exchange.cancelled").changes == {
        "status": ["shipped" if shipped else "pending", "cancelled"],
        "reason": ["", "缺货"],
    }
    assert points_reconcile(shop=shop) == []


@pytest.mark.django_db
def test_cancelling_twice_is_refused_and_changes_nothing(shop, pending):
    mall_cancel(shop=shop, exchange=pending)
    before = state(shop)

    with pytest.raises(InvalidFulfilment) as refused:
        mall_cancel(shop=shop, exchange=pending)

    assert str(refused.value.message) == "This exchange has been cancelled."
    assert state(shop) == before
    assert balance(pending.member) == 500


@pytest.mark.django_db
def test_delivered_gifts_and_coupons_cannot_be_cancelled(shop, pending):
    mall_ship(shop=shop, exchange=pending, tracking_number="SF1")
    mall_deliver(shop=shop, exchange=pending)
    coupon_exchange, _ = mall_exchange(
        shop=shop, member=pending.member, template=make_template(shop, points_price=50), idempotency_key="c"
    )
    before = state(shop)

    with pytest.raises(InvalidFulfilment) as delivered:
        mall_cancel(shop=shop, exchange=pending)
    with pytest.raises(InvalidFulfilment) as coupon:
        mall_cancel(shop=shop, exchange=coupon_exchange)
    with pytest.raises(InvalidFulfilment):
        mall_ship(shop=shop, exchange=coupon_exchange, tracking_number="SF2")

    assert str(delivered.value.message) == "A delivered gift cannot be cancelled."
    assert "wallet" in str(coupon.value.message)
    assert state(shop) == before


@pytest.mark.django_db
def test_the_queue_lists_gift_exchanges_pending_first_oldest_first(shop):
    gift = make_gift(shop, stock=None)
    member = rich_member(shop, points=10_000)
    made = [mall_exchange(shop=shop, member=member, gift=gift, idempotency_key=f"g{i}", **ADDRESS)[0] for i in range(4)]
    mall_exchange(shop=shop, member=member, template=make_template(shop, points_price=5), idempotency_key="c")
    mall_ship(shop=shop, exchange=made[0], tracking_number="SF1")
    mall_cancel(shop=shop, exchange=made[1])

    assert [e.pk for e in mall_queue(shop=shop)] == [made[2].pk, made[3].pk, made[0].pk, made[1].pk]
    assert [e.pk for e in mall_queue(shop=shop, status="pending")] == [made[2].pk, made[3].pk]


# --- Points given back --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_refund_credits_the_redemption_back_as_a_new_lot_once(shop):
    member = rich_member(shop, points=500)
    redeemed = points_redeem(shop=shop, member=member, points=120, idempotency_key="r").entry
    now = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=SHANGHAI)

    with time_machine.travel(now, tick=False):
        posted = points_refund(shop=shop, entry=redeemed, idempotency_key="back", reason="取消")
    replay = points_refund(shop=shop, entry=redeemed, idempotency_key="back", reason="取消")

    entry = posted.entry
    assert (posted.created, replay.created, replay.entry.pk) == (True, False, entry.pk)
    assert (entry.kind, entry.points, entry.reverses_id, entry.reason) == ("reverse", 120, redeemed.pk, "取消")
    # The shop's default rule: points expire at the end of the following calendar year, in the shop's time zone.
    lot = entry.lot.get()  # one lot per entry (a shop-led unique key: shops.distribution)
    assert (lot.remaining, lot.expires_at) == (120, datetime.datetime(2028, 1, 1, tzinfo=SHANGHAI))
    assert balance(member) == 500
    with pytest.raises(RefundRefused):
        points_refund(shop=shop, entry=redeemed, idempotency_key="again")
    assert balance(member) == 500
    assert PointsEntry.objects.filter(shop=shop, kind="reverse").count() == 1
    assert points_reconcile(shop=shop) == []


# --- The gift catalogue --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_gift_save_validates_and_audits(shop):
    for bad, field in (({"points_price": 0}, "points_price"), ({"name": " "}, "name"), ({"stock": -1}, "stock")):
        with pytest.raises(InvalidGift) as refused:
            gift_save(shop=shop, actor=SYSTEM, **{"name": "杯", "points_price": 10, **bad})
        assert list(refused.value.details) == [field]
    assert Gift.objects.count() == 0

    gift = gift_save(shop=shop, actor=SYSTEM, name=" 保温杯 ", points_price=300, stock=2)
    assert (gift.name, gift.points_price, gift.stock, gift.issued, gift.active) == ("保温杯", 300, 2, 0, True)
    member = rich_member(shop)
    mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="a", **ADDRESS)
    mall_exchange(shop=shop, member=member, gift=gift, idempotency_key="b", **ADDRESS)
    with pytest.raises(InvalidGift) as below:
        gift_save(shop=shop, actor=SYSTEM, gift=gift, stock=1)
    assert below.value.details == {"stock": "The stock cannot be less than the 2 already exchanged."}
    assert Gift.objects.get(pk=gift.pk).stock == 2

    gift_save(shop=shop, actor=SYSTEM, gift=gift, stock=10, points_price=250)
    gift_set_active(shop=shop, actor=SYSTEM, gift=gift, active=False)
    assert Gift.objects.filter(pk=gift.pk).values_list("stock", "points_price", "active").get() == (10, 250, False)
    audits = AuditLogEntry.objects.filter(shop=shop, action__startswith="mall_gift.").order_by("pk")
    assert [(a.action, a.changes) for a in audits] == [
        ("mall_gift.create", {"name": ["", "保温杯"]}),
        ("mall_gift.update", {"points_price": ["300", "250"], "stock": ["2", "10"]}),
        ("mall_gift.update", {"active": ["True", "False"]}),
    ]


# --- Races on PostgreSQL -------------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_members_racing_for_a_gift_of_five_get_exactly_five(shop):
    gift = make_gift(shop, points_price=100, stock=5)
    members = [rich_member(shop, i, points=150) for i in range(20)]

    results = race(
        [
            in_scope(
                shop, lambda m=m: mall_exchange(shop=shop, member=m, gift=gift, idempotency_key=f"g{m.pk}", **ADDRESS)
            )
            for m in members
        ]
    )

    won = [r[0].member_id for r in results if isinstance(r, tuple)]
    assert len(won) == 5
    assert all(isinstance(r, OutOfStock) for r in results if not isinstance(r, tuple)), results
    assert Gift.objects.get(pk=gift.pk).issued == 5
    assert Exchange.objects.filter(gift=gift).count() == 5
    balances = dict(Member.objects.filter(shop=shop).values_list("pk", "points_balance"))
    assert balances == {m.pk: 50 if m.pk in won else 150 for m in members}
    assert points_reconcile(shop=shop) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_member_with_points_for_three_racing_ten_times_gets_three(shop):
    gift = make_gift(shop, points_price=100, stock=None)
    template = make_template(shop, points_price=100, per_member_limit=10)
    member = rich_member(shop, points=300)

    results = race(
        [
            in_scope(
                shop,
                lambda i=i: mall_exchange(
                    shop=shop,
                    member=member,
                    idempotency_key=f"k{i}",
                    **({"gift": gift, **ADDRESS} if i % 2 else {"template": template}),
                ),
            )
            for i in range(10)
        ]
    )

    assert sum(1 for r in results if isinstance(r, tuple)) == 3
    assert all(isinstance(r, InsufficientPoints) for r in results if not isinstance(r, tuple)), results
    assert balance(member) == 0
    exchanges = Exchange.objects.filter(member=member)
    assert exchanges.count() == 3
    assert Gift.objects.get(pk=gift.pk).issued + CouponTemplate.objects.get(pk=template.pk).issued == 3
    assert Coupon.objects.filter(member=member).count() == exchanges.filter(template=template).count()
    assert points_reconcile(shop=shop) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_cancels_racing_exchanges_keep_the_stock_and_the_books_exact(shop):
    gift = make_gift(shop, points_price=100, stock=3)
    members = [rich_member(shop, i, points=100) for i in range(6)]
    first = [
        mall_exchange(shop=shop, member=m, gift=gift, idempotency_key=f"a{m.pk}", **ADDRESS)[0] for m in members[:3]
    ]

    results = race(
        [in_scope(shop, lambda e=e: mall_cancel(shop=shop, exchange=e)) for e in first]
        + [in_scope(shop, lambda e=e: mall_cancel(shop=shop, exchange=e)) for e in first]
        + [
            in_scope(
                shop, lambda m=m: mall_exchange(shop=shop, member=m, gift=gift, idempotency_key=f"b{m.pk}", **ADDRESS)
            )
            for m in members
        ]
    )

    cancels = results[:6]
    assert sum(1 for r in cancels if isinstance(r, Exchange)) == 3
    assert all(isinstance(r, InvalidFulfilment) for r in cancels if not isinstance(r, Exchange)), cancels
    live = Exchange.objects.filter(gift=gift).exclude(status=Fulfilment.CANCELLED).count()
    assert Gift.objects.get(pk=gift.pk).issued == live <= 3
    assert points_reconcile(shop=shop) == []
