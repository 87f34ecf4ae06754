"""Coupon expiry (coupons_expire) at its exact boundary, with its coupon.expired events, and the expiry reminders
(coupons_expiry_reminders: coupon.expiring events), with their tasks."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coupons import redemption
from coupons.issuance import coupon_issue
from coupons.models import Coupon, CouponStatus
from coupons.redemption import coupon_redeem, coupons_expire, coupons_expiry_reminders
from coupons.rules import Cart
from coupons.services import codes_generate
from coupons.tasks import coupons_expiry_reminders_all_shops
from events.models import Event
from events.types import EventType
from shops.services import SYSTEM

from .helpers import make_member, make_template

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
ISSUED = datetime.datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _reminder_days(settings):
    settings.COUPON_EXPIRY_REMINDER_DAYS = 3


def reminded(shop, type=EventType.COUPON_EXPIRING) -> list[str]:
    """The codes of the coupons with an event of `type`, in the order written."""
    ids = [e.payload["coupon_id"] for e in Event.objects.filter(shop=shop, type=type).order_by("id")]
    codes = dict(Coupon.objects.filter(shop=shop, pk__in=ids).values_list("pk", "code"))
    return [codes[pk] for pk in ids]


def issue(shop, member, days: int, key: str) -> Coupon:
    """A coupon valid for `days` days (to the end of the last local day), issued at ISSUED."""
    template = make_template(shop, name=f"{days}天券", valid_days=days)
    with time_machine.travel(ISSUED, tick=False):
        return coupon_issue(shop=shop, member=member, template=template, idempotency_key=key, source="claim").coupon


def statuses(shop) -> dict[str, str]:
    return dict(Coupon.objects.filter(shop=shop).values_list("code", "status"))


# --- Expiry --------------------------------------------------------------------------------------------------------


def test_a_coupon_expires_at_the_end_of_its_last_local_day_and_not_a_moment_before(shop):
    member = make_member(shop)
    coupon = issue(shop, member, 1, "k")  # one day: the day of issue, 1 June, to its end in Shanghai
    end = datetime.datetime(2026, 6, 2, 0, 0, tzinfo=SHANGHAI)
    assert coupon.valid_until == end

    assert coupons_expire(shop=shop, now=end - datetime.timedelta(microseconds=1)) == 0
    assert Coupon.objects.get(pk=coupon.pk).status == CouponStatus.AVAILABLE
    assert coupons_expire(shop=shop, now=end) == 1

    expired = Coupon.objects.get(pk=coupon.pk)
    assert (expired.status, expired.status_changed_at) == (CouponStatus.EXPIRED, end)
    assert coupons_expire(shop=shop, now=end + datetime.timedelta(days=1)) == 0


def test_expiry_leaves_used_coupons_unbound_codes_and_other_shops_alone(shop, other_shop):
    member = make_member(shop)
    used = issue(shop, member, 1, "used")
    coupon_redeem(shop=shop, code=used.code, member=member, order_external_id="A1", cart=Cart(amount=200), now=ISSUED)
    due = issue(shop, member, 1, "due")
    later = issue(shop, member, 30, "later")
    codes_generate(shop=shop, actor=SYSTEM, template=make_template(shop, name="码", valid_days=1), count=2)
    foreign = issue(other_shop, make_member(other_shop), 1, "due")
    foreign_before = statuses(other_shop)

    assert coupons_expire(shop=shop, now=datetime.datetime(2026, 6, 10, tzinfo=SHANGHAI)) == 1

    after = statuses(shop)
    assert (after[used.code], after[due.code], after[later.code]) == ("redeemed", "expired", "available")
    assert sorted(Coupon.objects.filter(shop=shop, member__isnull=True).values_list("status", flat=True)) == [
        "available",
        "available",
    ]
    assert statuses(other_shop) == foreign_before == {foreign.code: "available"}


# --- Reminders -------------------------------------------------------------------------------------------------


def test_reminders_pass_the_coupons_ending_within_the_days_soonest_first(shop, other_shop):
    member = make_member(shop)
    two, four, five = (issue(shop, member, days, f"k{days}") for days in (2, 4, 5))
    gone = issue(shop, member, 1, "gone")
    coupons_expire(shop=shop, now=gone.valid_until)
    issue(other_shop, make_member(other_shop), 2, "k2")
    now = ISSUED + datetime.timedelta(
        days=1
    )  # 2 June 09:00: two ends in 15 hours, four in 2 days 15, five in 3 days 15

    count = coupons_expiry_reminders(shop=shop, now=now)

    assert count == 2
    assert reminded(shop) == [two.code, four.code]
    assert reminded(shop, EventType.COUPON_EXPIRED) == [gone.code]
    assert reminded(other_shop) == []
    assert five.valid_until > now + datetime.timedelta(days=3)


def test_reminders_come_in_batches(shop, monkeypatch):
    monkeypatch.setattr(redemption, "REMINDER_BATCH", 2)
    member = make_member(shop)
    made = [issue(shop, member, 2, f"k{n}") for n in range(5)]

    with CaptureQueriesContext(connection) as queries:
        assert coupons_expiry_reminders(shop=shop, now=ISSUED) == 5

    assert reminded(shop) == [c.code for c in sorted(made, key=lambda c: c.pk)]
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT INTO events_event")]
    assert len(inserts) == 3


def test_the_daily_task_reminds_every_shop(shop, other_shop):
    mine = issue(shop, make_member(shop), 2, "k")
    theirs = issue(other_shop, make_member(other_shop), 2, "k")

    with time_machine.travel(ISSUED, tick=False):
        assert coupons_expiry_reminders_all_shops.delay().get() == 2

    assert (reminded(shop), reminded(other_shop)) == ([mine.code], [theirs.code])
