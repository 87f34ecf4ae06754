"""Expiry of earned lots and the reminders before it: exactly the due remainders expire, once, with the books
balanced afterwards; reminders name exactly the members and points about to expire."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from events.models import Event
from events.types import EventType
from members.models import Member
from members.services import Enrolment, member_enroll, member_erase
from points import expiry
from points.errors import InsufficientPoints
from points.expiry import EXPIRE_REASON, ExpiryConflict, points_expire, points_expiry_reminders
from points.models import EntryKind, PointsEntry, PointsLot, PointsProgram
from points.selectors import points_expiring, points_reconcile
from points.services import points_adjust, points_earn, points_redeem
from points.tasks import points_expire_all_shops
from shops.idempotency import body_hash
from shops.services import SYSTEM
from tests.concurrency import in_scope, race

pytestmark = pytest.mark.django_db

NOW = datetime(2028, 12, 31, 16, 5, tzinfo=UTC)  # 2029-01-01 00:05 in Shanghai, when the nightly run starts


def _member(shop, phone: str) -> Member:
    return member_enroll(shop=shop, data=Enrolment(phone=phone))[0]


def _earn(shop, member, points: int, key: str, expires_at: datetime) -> PointsLot:
    entry = points_earn(
        shop=shop,
        member=member,
        points=points,
        idempotency_key=key,
        expires_at=expires_at,
        now=NOW - timedelta(days=400),
    ).entry
    return PointsLot.objects.get(entry=entry)


def _balance(member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def _remaining(lot) -> int:
    return PointsLot.objects.get(pk=lot.pk).remaining


def _state(shop=None) -> tuple:
    only = {"shop": shop} if shop else {}
    return (
        sorted(tuple(sorted(model_to_dict(e).items())) for e in PointsEntry.objects.filter(**only)),
        sorted(PointsLot.objects.filter(**only).values_list("pk", "remaining")),
        sorted(Member.objects.filter(**only).values_list("pk", "points_balance")),
    )


def test_expiry_takes_exactly_the_due_remainders_and_leaves_the_rest(shop, other_shop):
    # given: a partly spent due lot beside a later one, a lot due exactly now, one due a second later, a member
    # without points, and another shop's due lot
    ann, bo, cy, di = (_member(shop, f"1380013800{i}") for i in range(4))
    ann_due = _earn(shop, ann, 100, "a1", NOW - timedelta(hours=1))
    ann_later = _earn(shop, ann, 50, "a2", NOW + timedelta(days=30))
    points_redeem(shop=shop, member=ann, points=30, idempotency_key="a-r")  # from the due lot: 70 left in it
    bo_due = _earn(shop, bo, 40, "b1", NOW)  # the boundary: expires_at == now is due
    cy_lot = _earn(shop, cy, 25, "c1", NOW + timedelta(seconds=1))
    theirs = _member(other_shop, "13800138000")
    their_lot = _earn(other_shop, theirs, 60, "t1", NOW - timedelta(days=1))
    other_before = _state(other_shop)

    # when
    expired = points_expire(shop=shop, now=NOW)

    # then
    assert expired == 2
    entries = PointsEntry.objects.filter(shop=shop, kind=EntryKind.EXPIRE).order_by("member_id")
    assert [
        (e.member_id, e.points, e.idempotency_key, e.reason, e.actor, e.created_at, e.order_external_id, e.reverses_id)
        for e in entries
    ] == [
        (ann.pk, -70, f"expire#lot#{ann_due.pk}", EXPIRE_REASON, "system", NOW, "", None),
        (bo.pk, -40, f"expire#lot#{bo_due.pk}", EXPIRE_REASON, "system", NOW, "", None),
    ]
    assert [e.body_hash for e in entries] == [
        body_hash(kind="expire", lot=ann_due.pk, member=ann.pk, points=-70),
        body_hash(kind="expire", lot=bo_due.pk, member=bo.pk, points=-40),
    ]
    assert [_remaining(lot) for lot in (ann_due, ann_later, bo_due, cy_lot)] == [0, 50, 0, 25]
    assert [_balance(m) for m in (ann, bo, cy, di)] == [50, 0, 25, 0]
    assert points_reconcile(shop=shop) == []
    assert _state(other_shop) == other_before and _remaining(their_lot) == 60 and _balance(theirs) == 60


def test_a_rerun_changes_nothing(shop):
    member = _member(shop, "13800138000")
    _earn(shop, member, 100, "e1", NOW - timedelta(days=1))
    _earn(shop, member, 30, "e2", NOW + timedelta(days=10))
    assert points_expire(shop=shop, now=NOW) == 1
    before = _state()

    assert points_expire(shop=shop, now=NOW) == 0
    assert points_expire(shop=shop, now=NOW + timedelta(days=1)) == 0
    assert _state() == before and _balance(member) == 30


def test_a_fully_spent_due_lot_writes_nothing(shop):
    member = _member(shop, "13800138000")
    _earn(shop, member, 20, "e1", NOW - timedelta(days=1))
    points_redeem(shop=shop, member=member, points=20, idempotency_key="r1")
    before = _state()

    assert points_expire(shop=shop, now=NOW) == 0
    assert _state() == before


def test_several_due_lots_of_one_member_expire_each_with_its_entry(shop):
    member = _member(shop, "13800138000")
    lots = [_earn(shop, member, p, f"e{p}", NOW - timedelta(days=p)) for p in (10, 20, 30)]
    _earn(shop, member, 5, "keep", NOW + timedelta(days=1))

    assert points_expire(shop=shop, now=NOW) == 3

    assert sorted(PointsEntry.objects.filter(kind=EntryKind.EXPIRE).values_list("idempotency_key", "points")) == sorted(
        (f"expire#lot#{lot.pk}", -lot.remaining) for lot in lots
    )
    assert _balance(member) == 5
    assert points_reconcile(shop=shop) == []


def test_the_default_time_is_now(shop):
    member = _member(shop, "13800138000")
    _earn(shop, member, 10, "e1", NOW)
    with time_machine.travel(NOW - timedelta(seconds=1), tick=False):
        assert points_expire(shop=shop) == 0
    with time_machine.travel(NOW, tick=False):
        assert points_expire(shop=shop) == 1
    assert PointsEntry.objects.get(kind=EntryKind.EXPIRE).created_at == NOW
    assert _balance(member) == 0


def test_an_open_lot_whose_expiry_entry_exists_stops_the_run_and_changes_nothing(shop):
    # given: the key of a due lot's expiry already used (by a service call: the API refuses keys with "#")
    member = _member(shop, "13800138000")
    other = _member(shop, "13900139000")
    lot = _earn(shop, member, 10, "e1", NOW - timedelta(days=1))
    _earn(shop, other, 15, "e2", NOW - timedelta(days=1))
    points_adjust(shop=shop, member=member, points=1, reason="x", idempotency_key=f"expire#lot#{lot.pk}", actor=SYSTEM)
    before = _state()

    with pytest.raises(ExpiryConflict):
        points_expire(shop=shop, now=NOW)

    assert _state() == before


def test_a_cached_balance_below_its_lots_stops_the_run_and_changes_nothing(shop):
    member = _member(shop, "13800138000")
    _earn(shop, member, 10, "e1", NOW - timedelta(days=1))
    Member.objects.filter(pk=member.pk).update(points_balance=4)  # drift: the balance promises less than the lot
    before = _state()

    with pytest.raises(IntegrityError):
        points_expire(shop=shop, now=NOW)

    assert _state() == before


def test_the_nightly_task_expires_every_shops_due_lots(shop, other_shop):
    ours, theirs = _member(shop, "13800138000"), _member(other_shop, "13800138000")
    _earn(shop, ours, 10, "e1", NOW - timedelta(minutes=5))
    _earn(other_shop, theirs, 20, "e1", NOW - timedelta(minutes=5))
    _earn(other_shop, theirs, 7, "e2", NOW + timedelta(minutes=5))

    with time_machine.travel(NOW, tick=False):
        assert points_expire_all_shops() == 2

    assert (_balance(ours), _balance(theirs)) == (0, 7)
    assert points_reconcile(shop=shop) == [] and points_reconcile(shop=other_shop) == []


# --- reminders


def test_expiring_points_are_summed_per_member_within_the_window(shop, other_shop):
    ann, bo, cy, di, ed = (_member(shop, f"1380013800{i}") for i in range(5))
    _earn(shop, ann, 100, "a1", NOW + timedelta(days=10))
    _earn(shop, ann, 50, "a2", NOW + timedelta(days=20))
    _earn(shop, ann, 70, "a3", NOW + timedelta(days=40))  # beyond the window
    _earn(shop, bo, 30, "b1", NOW + timedelta(days=30))  # the boundary: included
    _earn(shop, cy, 20, "c1", NOW + timedelta(days=30, seconds=1))  # just beyond
    _earn(shop, di, 10, "d1", NOW)  # due now: expiry's business, not a reminder's
    _earn(shop, ed, 40, "e1", NOW + timedelta(days=5))
    points_redeem(shop=shop, member=ed, points=40, idempotency_key="e-r")  # nothing left to expire
    _earn(other_shop, _member(other_shop, "13800138000"), 80, "t1", NOW + timedelta(days=5))

    rows = list(points_expiring(shop=shop, within_days=30, now=NOW))

    assert rows == [
        {"member_id": ann.pk, "points": 150, "earliest_expiry": NOW + timedelta(days=10)},
        {"member_id": bo.pk, "points": 30, "earliest_expiry": NOW + timedelta(days=30)},
    ]


def test_erased_members_get_no_reminder(shop):
    kept, erased = _member(shop, "13800138000"), _member(shop, "13900139000")
    _earn(shop, kept, 100, "a1", NOW + timedelta(days=10))
    _earn(shop, erased, 100, "a2", NOW + timedelta(days=10))
    member_erase(shop=shop, member=erased, actor=SYSTEM)
    assert [r["member_id"] for r in points_expiring(shop=shop, within_days=30, now=NOW)] == [kept.pk]


def _reminders(shop) -> list[tuple]:
    """The points.expiring events written, as (member, points, earliest expiry, dedup key), in order."""
    events = Event.objects.filter(shop=shop, type=EventType.POINTS_EXPIRING).order_by("id")
    return [
        (e.member_id, e.payload["points"], datetime.fromisoformat(e.payload["expires_at"]), e.payload["dedup_key"])
        for e in events
    ]


def test_reminders_are_events_with_the_members_points_and_a_dedup_key(shop, other_shop):
    PointsProgram.objects.filter(shop=shop).update(reminder_days=7)
    ann, bo, cy = (_member(shop, f"1380013800{i}") for i in range(3))
    _earn(shop, ann, 100, "a1", NOW + timedelta(days=2))  # 2029-01-03 00:05 in Shanghai
    _earn(shop, ann, 25, "a2", NOW + timedelta(days=6, hours=23))
    _earn(shop, bo, 30, "b1", NOW + timedelta(days=7, hours=-1))  # 2029-01-07 23:05 in Shanghai
    _earn(shop, cy, 60, "c1", NOW + timedelta(days=8))
    _earn(other_shop, _member(other_shop, "13800138000"), 80, "t1", NOW + timedelta(days=2))
    before = _state()

    sent = points_expiry_reminders(shop=shop, now=NOW)

    assert sent == 2
    assert _reminders(shop) == [
        (ann.pk, 125, NOW + timedelta(days=2), f"points-expiry:{shop.pk}:{ann.pk}:2029-01-03"),
        (bo.pk, 30, NOW + timedelta(days=7, hours=-1), f"points-expiry:{shop.pk}:{bo.pk}:2029-01-07"),
    ]
    assert not Event.objects.filter(shop=other_shop, type=EventType.POINTS_EXPIRING).exists()
    assert _state() == before
    # the next day: the same keys for the same members and earliest expiry (a consumer sends once), and Cy's
    # points have come within the window
    assert points_expiry_reminders(shop=shop, now=NOW + timedelta(days=1)) == 3
    first = _reminders(shop)[:2]
    assert [(m, p, k) for m, p, _at, k in _reminders(shop)[2:]] == [
        *((m, p, k) for m, p, _at, k in first),
        (cy.pk, 60, f"points-expiry:{shop.pk}:{cy.pk}:2029-01-09"),
    ]


def test_reminders_are_written_in_batches(shop, monkeypatch):
    monkeypatch.setattr(expiry, "REMINDER_BATCH", 2)
    members = [_member(shop, f"1380013800{i}") for i in range(5)]
    for i, member in enumerate(members):
        _earn(shop, member, 10 + i, f"e{i}", NOW + timedelta(days=1))

    with CaptureQueriesContext(connection) as queries:
        assert points_expiry_reminders(shop=shop, now=NOW) == 5

    assert [(m, p) for m, p, _at, _k in _reminders(shop)] == [(m.pk, 10 + i) for i, m in enumerate(members)]
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT INTO events_event")]
    assert len(inserts) == 3


def test_a_program_without_reminder_days_reads_and_writes_nothing(shop, django_assert_num_queries):
    PointsProgram.objects.filter(shop=shop).update(reminder_days=0)
    _earn(shop, _member(shop, "13800138000"), 10, "e1", NOW + timedelta(days=1))
    with django_assert_num_queries(1):  # the program
        assert points_expiry_reminders(shop=shop, now=NOW) == 0
    assert _reminders(shop) == []


def test_the_dedup_date_is_the_shops_local_date(shop):
    shop.time_zone = "America/New_York"
    shop.save(update_fields=["time_zone"])
    member = _member(shop, "13800138000")
    _earn(shop, member, 10, "e1", datetime(2029, 1, 3, 2, 0, tzinfo=UTC))  # still 2 January in New York
    points_expiry_reminders(shop=shop, now=NOW)
    assert _reminders(shop)[0][3].endswith(f":{member.pk}:{date(2029, 1, 2)}")


def test_expiry_writes_a_points_posted_event_per_expired_lot(shop):
    member = _member(shop, "13800138000")
    _earn(shop, member, 40, "e1", NOW - timedelta(days=1))
    points_expire(shop=shop, now=NOW)
    [event] = Event.objects.filter(shop=shop, type=EventType.POINTS_POSTED, payload__kind="expire")
    assert (event.member_id, event.payload["points"]) == (member.pk, -40)
    assert event.payload["key"].startswith("expire#lot#")


# --- races (PostgreSQL: real row locks, one connection per thread)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_expiry_racing_redemptions_of_the_same_members_never_overdraws_and_keeps_the_books(shop):
    for round_ in range(3):
        # given: per member a due lot of 100 and a later one of 50; half of them spend 30 (possible before and
        # after expiry), the others 120 (possible only before it)
        members = [_member(shop, f"1380013{round_}{i:03d}") for i in range(12)]
        for m in members:
            _earn(shop, m, 100, f"due:{m.pk}", NOW - timedelta(days=1))
            _earn(shop, m, 50, f"later:{m.pk}", NOW + timedelta(days=30))
        spend = {m.pk: 30 if i % 2 else 120 for i, m in enumerate(members)}

        # when: the nightly run and the redemptions start at the same moment
        results = race(
            [in_scope(shop, lambda: points_expire(shop=shop, now=NOW))]
            + [
                in_scope(
                    shop,
                    lambda m=m, p=spend[m.pk]: points_redeem(
                        shop=shop, member=m, points=p, idempotency_key=f"r:{m.pk}"
                    ),
                )
                for m in members
            ]
        )

        # then: each member ends in one of the two serial outcomes, and the books balance
        expired, redeemed = results[0], dict(zip([m.pk for m in members], results[1:], strict=True))
        assert isinstance(expired, int), expired
        expire_entries = dict(
            PointsEntry.objects.filter(member__in=members, kind=EntryKind.EXPIRE).values_list("member_id", "points")
        )
        assert expired == len(expire_entries)
        for m in members:
            before_expiry = getattr(redeemed[m.pk], "created", False)
            outcome = (_balance(m), expire_entries.get(m.pk), before_expiry)
            if spend[m.pk] == 30:  # before expiry: 70 of the due lot expire; after: all 100, then 30 of the 50
                assert outcome in [(50, -70, True), (20, -100, True)], outcome
            else:  # before expiry: the due lot is spent, nothing expires; after: refused
                assert outcome in [(30, None, True), (50, -100, False)], outcome
                if not before_expiry:
                    assert isinstance(redeemed[m.pk], InsufficientPoints), redeemed[m.pk]
        assert points_reconcile(shop=shop) == []
        assert Member.objects.filter(shop=shop, points_balance__lt=0).count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_expire_each_lot_once(shop):
    members = [_member(shop, f"1380013800{i}") for i in range(6)]
    for m in members:
        _earn(shop, m, 10 + m.pk, f"due:{m.pk}", NOW - timedelta(days=1))

    results = race([in_scope(shop, lambda: points_expire(shop=shop, now=NOW))] * 4)

    assert sorted(results) == [0, 0, 0, 6]
    assert PointsEntry.objects.filter(kind=EntryKind.EXPIRE).count() == 6
    assert [_balance(m) for m in members] == [0] * 6
    assert points_reconcile(shop=shop) == []
