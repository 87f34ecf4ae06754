"""Orders earn exactly what the rules say (through every recording path), once; refunds and cancellations take
back in proportion; pending points wait for the return window. The books reconcile after every test."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from members.models import Member
from members.services import Enrolment, member_enroll
from orders import services as orders_services
from orders.models import Order
from orders.services import (
    OrderInput,
    RefundInput,
    order_change_status,
    order_record,
    orders_record,
    refund_record,
)
from points.models import BonusKind, EntryKind, PendingAward, PendingState, PointsEntry, PointsLot
from points.order_effects import points_pending_release
from points.program import bonus_rule_save
from points.selectors import points_program_of, points_reconcile
from points.services import points_redeem
from shops.services import SYSTEM
from tiers.models import GrowthEntry, Tier

pytestmark = pytest.mark.django_db
PHONE = "+8613800138000"
PAID_AT = timezone.now() - timedelta(hours=1)


@pytest.fixture
def member(shop):
    return member_enroll(shop=shop, data=Enrolment(phone=PHONE))[0]


@pytest.fixture(autouse=True)
def _books_balance(shop):
    yield
    assert points_reconcile(shop=shop) == []


def _order(ext="TB1", amount="100.00", *, member_id=None, phone=PHONE, paid_at=None, status="paid", items=()):
    return OrderInput(
        external_id=ext,
        amount=Decimal(amount),
        paid_at=paid_at or PAID_AT,
        status=status,
        member_id=member_id,
        phone="" if member_id else phone,
        items=tuple(items),
    )


def _member(member) -> tuple[int, int, int]:
    m = Member.objects.get(pk=member.pk)
    return m.points_balance, m.points_pending, m.growth_value


def test_an_order_earns_one_point_per_whole_yuan_with_growth_value_and_records_why(shop, member):
    recorded = order_record(shop=shop, data=_order(amount="268.90"))

    assert recorded.order.points_earned == 268
    assert Order.objects.get(shop=shop, external_id="TB1").points_earned == 268
    assert _member(member) == (268, 0, 268)
    entry = PointsEntry.objects.get(shop=shop, order_external_id="TB1")
    assert (entry.kind, entry.points, entry.idempotency_key) == (EntryKind.EARN, 268, "order#TB1")
    assert entry.details["lines"][0] == {
        "rule": "base",
        "name": "",
        "points": "268.9000",
        "basis": "268.90",
        "multiplier": "1.00",
        "extra": 0,
    }
    assert PointsLot.objects.get(entry=entry).remaining == 268
    assert GrowthEntry.objects.get(shop=shop, member=member).value == 268


def test_a_replayed_order_earns_nothing_twice(shop, member):
    order_record(shop=shop, data=_order())
    again = order_record(shop=shop, data=_order())

    assert not again.created and again.order.points_earned == 100
    assert _member(member) == (100, 0, 100)
    assert PointsEntry.objects.count() == 1 and GrowthEntry.objects.count() == 1


def test_orders_without_a_member_or_cancelled_at_once_earn_nothing(shop, member):
    order_record(shop=shop, data=_order("ANON", phone=""))
    order_record(shop=shop, data=_order("GONE", status="cancelled"))

    assert Order.objects.filter(points_earned__gt=0).count() == 0
    assert _member(member) == (0, 0, 0)


def test_a_batch_awards_each_order_and_the_first_purchase_bonus_only_to_the_earliest(shop, member):
    bonus_rule_save(shop=shop, actor=SYSTEM, name="首单礼", kind=BonusKind.FIRST_PURCHASE, extra_points=50)
    now = timezone.now()
    results = orders_record(
        shop=shop,
        orders=[
            _order("B2", "20", paid_at=now - timedelta(hours=1)),
            _order("B1", "10", paid_at=now - timedelta(hours=2)),
            _order("B3", "30", member_id=member.pk),
        ],
    )

    assert [r.order.points_earned for r in results] == [20, 60, 30]
    assert _member(member) == (110, 0, 60)
    # a later order is not a first purchase
    assert order_record(shop=shop, data=_order("B4", "10")).order.points_earned == 10


@pytest.mark.parametrize("join_on_purchase", [False, True])
def test_a_replay_in_a_batch_does_not_take_the_first_purchase_bonus(shop, member, join_on_purchase):
    # given: the buyer's only order was refunded in full, so they have no counted order and a first purchase ahead
    bonus_rule_save(shop=shop, actor=SYSTEM, name="首单礼", kind=BonusKind.FIRST_PURCHASE, extra_points=50)
    shop.join_on_purchase = join_on_purchase
    shop.save()
    now = timezone.now()
    old = order_record(shop=shop, data=_order("OLD", "10", paid_at=now - timedelta(hours=3))).order
    refund_record(shop=shop, order=old, data=RefundInput(external_id="R1", amount=Decimal("10")))
    assert Member.objects.get(pk=member.pk).order_count == 0

    # when: a batch replays that order (the earliest of the batch) beside a new one
    replay, new = orders_record(
        shop=shop, orders=[_order("OLD", "10", paid_at=now - timedelta(hours=3)), _order("NEW", "20", paid_at=now)]
    )

    # then: the new order is the first purchase, as it would be without the replay, in its result and in the books
    assert not replay.created and replay.order.points_earned == 60
    assert new.created and new.order.points_earned == 70
    assert Order.objects.get(shop=shop, external_id="NEW").points_earned == 70
    assert PointsEntry.objects.get(shop=shop, idempotency_key="order#NEW").points == 70
    # and the replay wrote nothing: one earn entry of OLD (taken back by its refund), the balance NEW's alone
    assert PointsEntry.objects.filter(shop=shop, idempotency_key="order#OLD").count() == 1
    assert _member(member) == (70, 0, 20)


def test_a_tier_changed_between_the_buyers_read_and_their_lock_is_the_one_that_earns(shop, member, monkeypatch):
    # given: the buyer is raised to a tier with double points after the order read them, before it locks them
    vip = Tier.objects.get(shop=shop, rank=2)
    vip.points_multiplier = Decimal(2)
    vip.save()
    real_lock = orders_services.members_lock_for_orders

    def lock_after_a_concurrent_upgrade(**kwargs):
        Member.objects.filter(pk=member.pk).update(tier=vip)
        return real_lock(**kwargs)

    monkeypatch.setattr(orders_services, "members_lock_for_orders", lock_after_a_concurrent_upgrade)

    recorded = order_record(shop=shop, data=_order(amount="100"))

    # then: the order earns what the locked figures say, in its result, its row and the ledger
    assert recorded.order.points_earned == 200
    assert Order.objects.get(shop=shop, external_id="TB1").points_earned == 200
    assert PointsEntry.objects.get(shop=shop, idempotency_key="order#TB1").points == 200
    assert _member(member) == (200, 0, 100)


def test_the_tier_multiplier_of_the_buyers_tier_applies(shop, member):
    vip = Tier.objects.get(shop=shop, rank=2)
    vip.points_multiplier = Decimal(2)
    vip.save()
    Member.objects.filter(pk=member.pk).update(tier=vip)

    assert order_record(shop=shop, data=_order(amount="100")).order.points_earned == 200


def test_an_order_that_qualifies_upgrades_its_buyer_at_once(shop, member):
    order_record(shop=shop, data=_order(amount="600"))

    assert Member.objects.get(pk=member.pk).tier.name == "高级会员"


def test_refunds_take_back_in_proportion_and_a_full_refund_takes_everything(shop, member):
    order = order_record(shop=shop, data=_order(amount="100.00")).order

    refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("30")))
    assert _member(member) == (70, 0, 70)
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R2", amount=Decimal("0.50")))
    assert _member(member) == (69, 0, 69)  # keeps floor(100 x 69.5 / 100)
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R3", amount=Decimal("69.50")))
    assert _member(member) == (0, 0, 0)
    reversals = PointsEntry.objects.filter(shop=shop, kind=EntryKind.REVERSE).order_by("pk")
    assert [(r.points, r.idempotency_key) for r in reversals] == [
        (-30, "refund#R1"),
        (-1, "refund#R2"),
        (-69, "refund#R3"),
    ]


def test_a_replayed_refund_takes_nothing_twice(shop, member):
    order = order_record(shop=shop, data=_order(amount="100.00")).order
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("40")))
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("40")))

    assert _member(member) == (60, 0, 60)


def test_a_refund_after_the_points_were_spent_takes_what_is_left_and_records_the_shortfall(shop, member):
    order = order_record(shop=shop, data=_order(amount="100.00")).order
    points_redeem(shop=shop, member=member, points=80, idempotency_key="spend")

    refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("100")))

    reversal = PointsEntry.objects.get(shop=shop, kind=EntryKind.REVERSE)
    assert (reversal.points, reversal.details) == (-20, {"asked": 100, "taken": 20})
    assert _member(member) == (0, 0, 0)


def test_cancelling_a_paid_order_takes_its_points_back(shop, member):
    order = order_record(shop=shop, data=_order(amount="55")).order
    order_change_status(shop=shop, order=order, status="cancelled")

    assert _member(member) == (0, 0, 0)
    assert PointsEntry.objects.get(shop=shop, kind=EntryKind.REVERSE).idempotency_key == "cancel#TB1"


@pytest.fixture
def pending_week(shop):
    program = points_program_of(shop=shop)
    program.pending_days = 7
    program.save()


def test_pending_points_wait_until_a_week_after_completion(shop, member, pending_week):
    order = order_record(shop=shop, data=_order(amount="100")).order
    assert _member(member) == (0, 100, 100)
    assert PendingAward.objects.get(shop=shop).available_at is None  # the window starts when the order completes

    with time_machine.travel(datetime(2026, 11, 1, tzinfo=UTC)):
        order_change_status(shop=shop, order=order, status="completed")
    due = PendingAward.objects.get(shop=shop).available_at
    assert due == datetime(2026, 11, 8, tzinfo=UTC)

    assert points_pending_release(shop=shop, now=due - timedelta(seconds=1)) == 0
    assert points_pending_release(shop=shop, now=due) == 1
    assert _member(member) == (100, 0, 100)
    assert PointsEntry.objects.get(shop=shop).idempotency_key == "order#TB1"
    assert points_pending_release(shop=shop, now=due + timedelta(days=1)) == 0  # re-running changes nothing


def test_the_hourly_task_releases_due_awards_of_every_shop_once(shop, other_shop, member, pending_week):
    from points.tasks import points_release_all_shops

    theirs = member_enroll(shop=other_shop, data=Enrolment(phone=PHONE))[0]
    for owner in (shop, other_shop):
        program = points_program_of(shop=owner)
        program.pending_days = 7
        program.save()
        order = order_record(shop=owner, data=_order(amount="80")).order
        with time_machine.travel(datetime(2026, 11, 1, tzinfo=UTC)):
            order_change_status(shop=owner, order=order, status="completed")

    with time_machine.travel(datetime(2026, 11, 7, 23, tzinfo=UTC)):
        assert points_release_all_shops() == 2
    assert (_member(member), _member(theirs)) == ((0, 80, 80), (0, 80, 80))
    with time_machine.travel(datetime(2026, 11, 8, 0, 30, tzinfo=UTC)):
        points_release_all_shops()
        points_release_all_shops()
    assert (_member(member), _member(theirs)) == ((80, 0, 80), (80, 0, 80))
    assert points_reconcile(shop=other_shop) == []


def test_redemptions_never_take_pending_points(shop, member, pending_week):
    from points.errors import InsufficientPoints

    order_record(shop=shop, data=_order(amount="100"))
    with pytest.raises(InsufficientPoints):
        points_redeem(shop=shop, member=member, points=1, idempotency_key="too-soon")
    assert _member(member) == (0, 100, 100)


def test_a_refund_inside_the_window_cuts_the_pending_points_and_a_cancellation_cancels_them(shop, member, pending_week):
    first = order_record(shop=shop, data=_order("P1", amount="100")).order
    second = order_record(shop=shop, data=_order("P2", amount="50")).order

    refund_record(shop=shop, order=first, data=RefundInput(external_id="R1", amount=Decimal("25")))
    order_change_status(shop=shop, order=second, status="cancelled")

    awards = dict(PendingAward.objects.values_list("order_external_id", "points"))
    assert awards == {"P1": 75, "P2": 0}
    assert PendingAward.objects.get(order_external_id="P2").state == PendingState.CANCELLED
    assert _member(member) == (0, 75, 75)
    assert PointsEntry.objects.count() == 0


def test_a_refund_after_release_takes_back_only_what_the_earlier_cut_left_over(shop, member, pending_week):
    order = order_record(shop=shop, data=_order("P1", amount="100")).order
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("50")))
    with time_machine.travel(datetime(2026, 11, 1, tzinfo=UTC)):
        order_change_status(shop=shop, order=Order.objects.get(pk=order.pk), status="completed")
    points_pending_release(shop=shop, now=datetime(2026, 11, 9, tzinfo=UTC))
    assert _member(member) == (50, 0, 50)

    refund_record(
        shop=shop, order=Order.objects.get(pk=order.pk), data=RefundInput(external_id="R2", amount=Decimal("25"))
    )

    assert _member(member) == (25, 0, 25)  # 25% of the order still paid keeps 25 of its 100 points
    assert Order.objects.get(pk=order.pk).points_earned == 100


def test_another_shops_orders_leave_this_shops_books_alone(shop, other_shop, member):
    other = member_enroll(shop=other_shop, data=Enrolment(phone=PHONE))[0]
    order_record(shop=other_shop, data=_order(amount="300"))

    assert _member(other) == (300, 0, 300)
    assert points_reconcile(shop=other_shop) == []
    assert _member(member) == (0, 0, 0)
