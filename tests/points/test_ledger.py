"""The points ledger: exact balances, lots consumed soonest-expiring first, idempotent writes, audited adjustments,
and books that reconcile after every write (cached balance = sum of entries = sum of open lots)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.forms.models import model_to_dict

from members.models import Member
from members.services import Enrolment, member_enroll, member_erase
from points.errors import IdempotencyConflict, InsufficientPoints, InvalidPoints
from points.models import EntryKind, PointsEntry, PointsLot, PointsProgram
from points.rules import expiry_for
from points.selectors import points_reconcile
from points.services import points_adjust, points_earn, points_redeem
from shops.models import AuditLogEntry
from shops.services import SYSTEM, Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(shop):
    return member_enroll(shop=shop, data=Enrolment(phone="13800138000"))[0]


@pytest.fixture(autouse=True)
def _books_balance(shop):
    yield
    assert points_reconcile(shop=shop) == []


def _balance(member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def _state() -> tuple:
    return (
        sorted(tuple(sorted(model_to_dict(e).items())) for e in PointsEntry.objects.all()),
        sorted(PointsLot.objects.values_list("entry_id", "remaining")),
        sorted(Member.objects.values_list("pk", "points_balance")),
    )


def test_earning_credits_a_lot_that_expires_at_the_end_of_the_following_year(shop, member):
    earned_at = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)  # 2027-01-01 01:00 in Shanghai: a 2027 lot
    posted = points_earn(shop=shop, member=member, points=268, idempotency_key="order:TB1", now=earned_at)

    assert posted.created and posted.entry.kind == EntryKind.EARN and posted.entry.points == 268
    assert _balance(member) == 268
    lot = PointsLot.objects.get()
    assert (lot.remaining, lot.expires_at) == (268, datetime(2028, 12, 31, 16, 0, tzinfo=UTC))  # 2029-01-01 Shanghai


def test_default_expiry_follows_the_shops_time_zone(shop):
    shop.time_zone = "America/New_York"
    earned_at = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
    assert expiry_for(program=PointsProgram(), time_zone=shop.time_zone, earned_at=earned_at) == datetime(
        2028, 1, 1, 5, 0, tzinfo=UTC
    )  # still 2026 in New York: valid until the end of 2027 there


def test_a_replay_returns_the_first_entry_and_changes_nothing(shop, member):
    first = points_earn(shop=shop, member=member, points=10, idempotency_key="k1")
    before = _state()
    again = points_earn(shop=shop, member=member, points=10, idempotency_key="k1")
    assert (again.created, again.entry.pk) == (False, first.entry.pk)
    assert _state() == before


@pytest.mark.parametrize(
    "reuse",
    [
        lambda shop, member: points_earn(shop=shop, member=member, points=11, idempotency_key="k1"),
        lambda shop, member: points_redeem(shop=shop, member=member, points=10, idempotency_key="k1"),
        lambda shop, member: points_earn(shop=shop, member=member, points=10, idempotency_key="k1", reason="other"),
    ],
)
def test_a_key_reused_with_other_content_is_a_conflict_and_changes_nothing(shop, member, reuse):
    points_earn(shop=shop, member=member, points=10, idempotency_key="k1")
    before = _state()
    with pytest.raises(IdempotencyConflict):
        reuse(shop, member)
    assert _state() == before


def test_a_key_used_for_another_member_is_a_conflict(shop, member):
    other = member_enroll(shop=shop, data=Enrolment(phone="13900139000"))[0]
    points_earn(shop=shop, member=member, points=10, idempotency_key="k1")
    with pytest.raises(IdempotencyConflict):
        points_earn(shop=shop, member=other, points=10, idempotency_key="k1")
    assert _balance(other) == 0


def test_keys_are_per_shop(shop, other_shop, member):
    theirs = member_enroll(shop=other_shop, data=Enrolment(phone="13800138000"))[0]
    points_earn(shop=shop, member=member, points=10, idempotency_key="k1")
    assert points_earn(shop=other_shop, member=theirs, points=5, idempotency_key="k1").created
    assert (_balance(member), _balance(theirs)) == (10, 5)
    assert points_reconcile(shop=other_shop) == []


def test_redemption_takes_the_soonest_expiring_lots_first(shop, member):
    now = datetime(2026, 11, 23, tzinfo=UTC)
    late = points_earn(shop=shop, member=member, points=50, idempotency_key="a", expires_at=now + timedelta(days=300))
    soon = points_earn(shop=shop, member=member, points=30, idempotency_key="b", expires_at=now + timedelta(days=30))
    never = points_earn(shop=shop, member=member, points=20, idempotency_key="c", now=now)
    PointsLot.objects.filter(entry=never.entry).update(expires_at=None)  # a lot that never expires is taken last

    posted = points_redeem(shop=shop, member=member, points=60, idempotency_key="r1")

    assert posted.entry.points == -60 and posted.entry.kind == EntryKind.REDEEM
    remaining = dict(PointsLot.objects.values_list("entry_id", "remaining"))
    assert remaining == {soon.entry.pk: 0, late.entry.pk: 20, never.entry.pk: 20}
    assert _balance(member) == 40


def test_redeeming_more_than_the_balance_is_refused_and_changes_nothing(shop, member):
    points_earn(shop=shop, member=member, points=100, idempotency_key="e")
    before = _state()
    with pytest.raises(InsufficientPoints) as refused:
        points_redeem(shop=shop, member=member, points=101, idempotency_key="r")
    assert refused.value.details == {"points": 101, "balance": 100}
    assert _state() == before
    assert points_redeem(shop=shop, member=member, points=100, idempotency_key="r").entry.points == -100
    assert _balance(member) == 0


@pytest.mark.parametrize("points", [0, -5, 1.5, "10", True, None, 10**13])
def test_points_are_whole_numbers_above_zero(shop, member, points):
    before = _state()
    with pytest.raises(InvalidPoints):
        points_earn(shop=shop, member=member, points=points, idempotency_key="x")
    with pytest.raises(InvalidPoints):
        points_redeem(shop=shop, member=member, points=points, idempotency_key="y")
    assert _state() == before


def test_an_adjustment_needs_a_reason_credits_or_debits_and_is_audited(shop, member, owner):
    actor = Actor(user=owner)
    with pytest.raises(InvalidPoints):
        points_adjust(shop=shop, member=member, points=50, reason="  ", idempotency_key="a0", actor=actor)
    with pytest.raises(InvalidPoints):
        points_adjust(shop=shop, member=member, points=0, reason="x", idempotency_key="a0", actor=actor)

    points_adjust(shop=shop, member=member, points=50, reason="补偿: 配送延误", idempotency_key="a1", actor=actor)
    points_adjust(shop=shop, member=member, points=-20, reason="误发", idempotency_key="a2", actor=actor)
    with pytest.raises(InsufficientPoints):
        points_adjust(shop=shop, member=member, points=-31, reason="误发", idempotency_key="a3", actor=actor)

    assert _balance(member) == 30
    assert list(PointsEntry.objects.order_by("pk").values_list("kind", "points")) == [("adjust", 50), ("adjust", -20)]
    audits = AuditLogEntry.objects.filter(action="points.adjust").order_by("pk")
    assert [(a.actor_user_id, a.changes["points_balance"]) for a in audits] == [
        (owner.pk, [0, 50]),
        (owner.pk, [50, 30]),
    ]


def test_an_erased_member_earns_and_spends_nothing(shop, member):
    points_earn(shop=shop, member=member, points=10, idempotency_key="e")
    member_erase(shop=shop, member=member, actor=SYSTEM)
    with pytest.raises(Member.DoesNotExist):
        points_earn(shop=shop, member=member, points=10, idempotency_key="e2")
    with pytest.raises(Member.DoesNotExist):
        points_redeem(shop=shop, member=member, points=5, idempotency_key="r")


def test_another_shops_member_is_not_found(shop, other_shop):
    theirs = member_enroll(shop=other_shop, data=Enrolment(phone="13800138000"))[0]
    with pytest.raises(Member.DoesNotExist):
        points_earn(shop=shop, member=theirs, points=10, idempotency_key="e")
    assert _balance(theirs) == 0 and not PointsEntry.objects.exists()


def test_reconciliation_names_a_member_whose_cached_balance_drifted(shop, member):
    points_earn(shop=shop, member=member, points=10, idempotency_key="e")
    Member.objects.filter(pk=member.pk).update(points_balance=12)
    assert points_reconcile(shop=shop) == [{"member_id": member.pk, "cached": 12, "ledger": 10, "lots": 10}]
    Member.objects.filter(pk=member.pk).update(points_balance=10)
