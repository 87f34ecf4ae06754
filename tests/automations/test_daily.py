"""The daily triggers (SPEC 13) at moved clocks: birthdays at the shop's day boundary and on 29 February, one
birthday gift whichever path gives it, points and coupons expiring, win-back leaving when the member orders again;
each pass run twice enters nobody twice; holdout members get neither message nor reward."""

import datetime
import zoneinfo

import pytest
import time_machine

from automations.daily import daily_pass
from automations.models import Automation, DailyRun, JourneyStatus, Step, StepKind
from campaigns.models import MessageStatus
from coupons.models import Coupon, Occasion
from coupons.tier_gift_services import tier_gift_add
from coupons.tier_gifts import tier_gifts_issue
from points.models import PointsLot
from points.services import points_adjust
from shops.services import SYSTEM
from shops.sms import LocmemBackend
from tests.coupons.helpers import make_member, make_template
from tests.factories import CouponFactory, OrderFactory
from tiers.models import Tier
from tiers.services import tier_assign

from .helpers import advance, journeys, messages, outbox_phones, send_all, switch_on

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def day_of(shop, at) -> dict:
    """The daily pass, the steps and the senders at `at`."""
    with time_machine.travel(at, tick=False):
        entered = daily_pass(shop=shop)
        advance(shop)
        send_all(shop)
    return entered


def consenting(shop, n, **fields):
    return make_member(shop, n, consents={"sms": True}, **fields)


def test_a_birthday_enters_on_the_shops_day_not_the_servers(shop):
    birthday = switch_on(shop, "birthday", days=3)
    member = consenting(shop, 1, birthday_month=3, birthday_day=4)

    day_of(shop, local(2027, 2, 28, 23, 59))  # 15:59 UTC: the shop's 28 February, three days before the 3rd
    assert not journeys(shop, birthday).exists()
    DailyRun.objects.filter(shop=shop).delete()
    day_of(shop, local(2027, 3, 1, 0, 1))  # 16:01 UTC on 28 February, already 1 March in the shop

    assert list(journeys(shop, birthday).values_list("member_id", "occurrence")) == [(member.pk, "2027")]
    assert outbox_phones() == {member.phone: 1}


def test_a_29_february_birthday_counts_on_28_february_in_other_years_once(shop):
    birthday = switch_on(shop, "birthday", days=0)
    leap = consenting(shop, 1, birthday_month=2, birthday_day=29)

    day_of(shop, local(2027, 2, 28, 0, 30))
    day_of(shop, local(2027, 2, 28, 12))  # the same day again: the pass is done
    DailyRun.objects.filter(shop=shop).delete()
    day_of(shop, local(2027, 2, 28, 18))  # and forced to run again: the occurrence holds
    day_of(shop, local(2027, 3, 1, 0, 30))  # 1 March is not the day

    assert list(journeys(shop, birthday).values_list("member_id", "occurrence")) == [(leap.pk, "2027")]
    assert outbox_phones() == {leap.phone: 1}


def test_one_birthday_gift_whether_the_automation_or_the_tier_pass_gives_it(shop):
    gold = Tier.objects.get(shop=shop, rank=1)
    gift = tier_gift_add(
        shop=shop,
        actor=SYSTEM,
        tier=gold,
        occasion=Occasion.BIRTHDAY,
        template=make_template(shop, name="生日券"),
        quantity=1,
    )
    switch_on(shop, "birthday", days=3)
    member = consenting(shop, 1, birthday_month=6, birthday_day=10)
    with time_machine.travel(local(2027, 5, 1, 9), tick=False):
        tier_assign(shop=shop, member=member, tier=gold, actor=SYSTEM)

    day_of(shop, local(2027, 6, 7, 0, 30))  # the automation: three days before, the gift named in the message
    tier_gifts_issue(shop=shop, now=local(2027, 6, 10, 9))  # the tier's pass on the day

    assert list(Coupon.objects.filter(shop=shop).values_list("member_id", "idempotency_key")) == [
        (member.pk, f"birthday#{gift.pk}#2027#1#{member.pk}")
    ]
    [sms] = LocmemBackend.outbox
    assert "生日券" in sms.text and "6月10日" in sms.text


def test_holdout_members_get_neither_the_message_nor_the_reward(shop):
    birthday = switch_on(shop, "birthday", days=0, holdout_percent=50)
    Step.objects.filter(automation=birthday, kind=StepKind.REWARD).update(tier_birthday_gift=False, points=100)
    held, treated = (consenting(shop, n, birthday_month=7, birthday_day=1) for n in (1, 2))
    offset = birthday.pk * 3779 % 10_000
    held.__class__.objects.filter(pk=held.pk).update(bucket=(10_000 - offset) % 10_000)  # position 0: held out
    treated.__class__.objects.filter(pk=treated.pk).update(bucket=(15_000 - offset) % 10_000)  # position 5000

    day_of(shop, local(2027, 7, 1, 0, 30))

    assert dict(journeys(shop, birthday).values_list("member_id", "status")) == {
        held.pk: JourneyStatus.HOLDOUT,
        treated.pk: JourneyStatus.DONE,
    }
    assert outbox_phones() == {treated.phone: 1}
    held.refresh_from_db()
    treated.refresh_from_db()
    assert (held.points_balance, treated.points_balance) == (0, 100)


def test_points_expiring_remind_once_per_expiry_day(shop):
    expiring = switch_on(shop, "points_expiring", days=7)
    member, later = consenting(shop, 1), consenting(shop, 2)
    for m in (member, later):
        points_adjust(shop=shop, member=m, points=300, reason="test", idempotency_key=f"p{m.pk}", actor=SYSTEM)
    PointsLot.objects.filter(member=member).update(expires_at=local(2027, 1, 8, 0))
    PointsLot.objects.filter(member=later).update(expires_at=local(2027, 1, 9, 0))

    day_of(shop, local(2027, 1, 1, 0, 30))
    DailyRun.objects.filter(shop=shop).delete()
    day_of(shop, local(2027, 1, 1, 9))

    assert list(journeys(shop, expiring).values_list("member_id", "occurrence")) == [(member.pk, "2027-01-08")]
    [sms] = LocmemBackend.outbox
    assert "300" in sms.text and "1月8日" in sms.text


def test_a_coupon_expiring_is_named_and_a_used_one_is_not_reminded(shop):
    reminder = switch_on(shop, "coupons_expiring", days=3)
    Step.objects.filter(automation=reminder).update(position=1)
    Step.objects.create(shop=shop, automation=reminder, position=0, kind=StepKind.WAIT, wait_days=1)
    member, user = consenting(shop, 1), consenting(shop, 2)
    template = make_template(shop)
    kept = CouponFactory(template=template, member=member)
    used = CouponFactory(template=template, member=user)
    Coupon.objects.filter(pk__in=[kept.pk, used.pk]).update(valid_until=local(2027, 4, 4, 12))

    day_of(shop, local(2027, 4, 1, 0, 30))
    Coupon.objects.filter(pk=used.pk).update(status="redeemed")  # used before the message's day
    day_of(shop, local(2027, 4, 2, 0, 30))

    assert dict(journeys(shop, reminder).values_list("member_id", "status")) == {
        member.pk: JourneyStatus.DONE,
        user.pk: JourneyStatus.EXITED,
    }
    [sms] = LocmemBackend.outbox
    assert kept.code in sms.text


def test_win_back_leaves_a_member_who_ordered_before_the_message(shop):
    win_back = switch_on(shop, "win_back", days=30)
    Step.objects.filter(automation=win_back).update(position=1)
    Step.objects.create(shop=shop, automation=win_back, position=0, kind=StepKind.WAIT, wait_days=2)
    lapsed, returns = consenting(shop, 1), consenting(shop, 2)
    with time_machine.travel(local(2027, 3, 1, 13), tick=False):
        for m in (lapsed, returns):
            OrderFactory(member=m, paid_at=local(2027, 3, 1, 12))

    day_of(shop, local(2027, 3, 31, 0, 30))
    with time_machine.travel(local(2027, 4, 1, 13), tick=False):
        OrderFactory(member=returns, paid_at=local(2027, 4, 1, 12))
    day_of(shop, local(2027, 4, 2, 1))

    assert dict(journeys(shop, win_back).values_list("member_id", "status")) == {
        lapsed.pk: JourneyStatus.DONE,
        returns.pk: JourneyStatus.EXITED,
    }
    assert outbox_phones() == {lapsed.phone: 1}
    assert messages(shop, win_back).get().status == MessageStatus.SENT


def test_a_switched_off_daily_automation_enters_nobody(shop):
    consenting(shop, 1, birthday_month=1, birthday_day=1)
    day_of(shop, local(2027, 1, 1, 0, 30))
    assert not Automation.objects.filter(shop=shop, journeys__isnull=False).exists()


def test_every_daily_trigger_run_twice_on_one_day_enters_each_member_once(shop):
    """Birthday, points and coupons expiring, win-back and replenishment together, the day's pass forced twice."""
    from automations.daily import daily_day_run

    for key, days in (("birthday", 3), ("points_expiring", 3), ("coupons_expiring", 3), ("win_back", 31),
                      ("replenishment", 3)):  # fmt: skip
        switch_on(shop, key, days=days)
    member = consenting(shop, 1, birthday_month=4, birthday_day=4)
    points_adjust(shop=shop, member=member, points=50, reason="test", idempotency_key="p", actor=SYSTEM)
    PointsLot.objects.filter(member=member).update(expires_at=local(2027, 4, 4, 12))
    coupon = CouponFactory(template=make_template(shop), member=member)
    Coupon.objects.filter(pk=coupon.pk).update(valid_until=local(2027, 4, 4, 12))
    with time_machine.travel(local(2027, 3, 1, 13), tick=False):
        OrderFactory(member=member, paid_at=local(2027, 3, 1, 12))

    with time_machine.travel(local(2027, 4, 1, 0, 30), tick=False):
        first = daily_day_run(shop=shop, day=datetime.date(2027, 4, 1))
        again = daily_day_run(shop=shop, day=datetime.date(2027, 4, 1))

    assert sorted(first.values()) == [0, 1, 1, 1, 1]  # replenishment: one purchase day, no cycle yet
    assert set(again.values()) == {0}
    assert Automation.objects.filter(shop=shop, journeys__member=member).count() == 4
