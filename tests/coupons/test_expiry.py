"""Coupon expiry (coupons_expire) at its exact boundary, and the expiry reminders passed to the configured handlers
(coupons_expiry_reminders), with their tasks."""

import datetime
import zoneinfo

import pytest
import time_machine

from coupons import redemption
from coupons.issuance import coupon_issue
from coupons.models import Coupon, CouponStatus
from coupons.redemption import coupon_redeem, coupons_expire, coupons_expiry_reminders
from coupons.rules import Cart
from coupons.services import codes_generate
from coupons.tasks import coupons_expiry_reminders_all_shops
from shops.services import SYSTEM

from .helpers import make_member, make_template

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
ISSUED = datetime.datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)
HANDLER = "tests.coupons.test_expiry.remember"
received: list[tuple[int, list[str]]] = []


def remember(*, shop, coupons):
    """A reminder handler for the tests: records which coupons each call was given."""
    received.append((shop.pk, [c.code for c in coupons]))


@pytest.fixture(autouse=True)
def _handlers(settings):
    received.clear()
    settings.COUPON_EXPIRY_REMINDER_HANDLERS = [HANDLER]
    settings.COUPON_EXPIRY_REMINDER_DAYS = 3


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
    coupon_redeem(shop=shop, code=used.code, member=member, order_external_id="A1", cart=Cart(amount=200),
                  now=ISSUED)  # fmt: skip
    due = issue(shop, member, 1, "due")
    later = issue(shop, member, 30, "later")
    codes_generate(shop=shop, actor=SYSTEM, template=make_template(shop, name="码", valid_days=1), count=2)
    foreign = issue(other_shop, make_member(other_shop), 1, "due")
    foreign_before = statuses(other_shop)

    assert coupons_expire(shop=shop, now=datetime.datetime(2026, 6, 10, tzinfo=SHANGHAI)) == 1

    after = statuses(shop)
    assert (after[used.code], after[due.code], after[later.code]) == ("redeemed", "expired", "available")
    assert sorted(Coupon.objects.filter(shop=shop, member__isnull=True).values_list("status", flat=True)) == [
        "available", "available",
    ]  # fmt: skip
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
    assert received == [(shop.pk, [two.code, four.code])]
    assert five.valid_until > now + datetime.timedelta(days=3)


def test_reminders_come_in_batches(shop, monkeypatch):
    monkeypatch.setattr(redemption, "REMINDER_BATCH", 2)
    member = make_member(shop)
    made = [issue(shop, member, 2, f"k{n}") for n in range(5)]

    assert coupons_expiry_reminders(shop=shop, now=ISSUED) == 5

    codes = [c.code for c in sorted(made, key=lambda c: c.pk)]
    assert received == [(shop.pk, codes[0:2]), (shop.pk, codes[2:4]), (shop.pk, codes[4:5])]


def test_without_handlers_nothing_is_read_or_sent(shop, settings, django_assert_num_queries):
    settings.COUPON_EXPIRY_REMINDER_HANDLERS = []
    issue(shop, make_member(shop), 2, "k")

    with django_assert_num_queries(0):
        assert coupons_expiry_reminders(shop=shop, now=ISSUED) == 0
    assert received == []


def test_the_daily_task_reminds_every_shop(shop, other_shop):
    mine = issue(shop, make_member(shop), 2, "k")
    theirs = issue(other_shop, make_member(other_shop), 2, "k")

    with time_machine.travel(ISSUED, tick=False):
        assert coupons_expiry_reminders_all_shops.delay().get() == 2

    assert sorted(received) == sorted([(shop.pk, [mine.code]), (other_shop.pk, [theirs.code])])
