"""Tier gifts (coupons.tier_gifts) at frozen instants: the upgrade gift once per tier and year, birthday gifts on the
member's local birthday (29 February on 28 February in other years), the monthly pack once a month, paused
templates, quantities; and the periodic Celery tasks run eagerly."""

import datetime
import zoneinfo

import pytest
import time_machine

from coupons.grants import grant_create
from coupons.models import Coupon, GiftRun, GrantStatus, Occasion, Source, TierGift
from coupons.services import template_set_status
from coupons.tasks import coupons_expire_all_shops, tier_gifts_all_shops
from coupons.tier_gift_services import tier_gift_add
from coupons.tier_gifts import tier_gifts_issue
from events.models import Cursor
from events.tasks import events_dispatch
from members.segments import segment_save
from members.services import member_set_frozen
from shops.services import SYSTEM
from tiers.models import Tier
from tiers.services import tier_assign

from .helpers import make_member, make_template

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
UTC = datetime.UTC


def local(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def tier(shop, rank: int) -> Tier:
    return Tier.objects.get(shop=shop, rank=rank)


def tier_gift(shop, rank: int, occasion: str, quantity: int = 1, **template_fields) -> TierGift:
    template = make_template(shop, name=f"{occasion}券", **template_fields)
    return tier_gift_add(
        shop=shop, actor=SYSTEM, tier=tier(shop, rank), occasion=occasion, template=template, quantity=quantity
    )


def coupons(shop, source: str):
    return sorted(Coupon.objects.filter(shop=shop, source=source).values_list("member_id", "idempotency_key"))


def assign(shop, member, rank, at):
    with time_machine.travel(at, tick=False):
        tier_assign(shop=shop, member=member, tier=tier(shop, rank), actor=SYSTEM)


# --- Upgrades: the tier.changed events, delivered to the tier gifts consumer -----------------------------------------


def deliver(shop) -> None:
    """What the dispatcher does after the commits (which a test's transaction never reaches)."""
    events_dispatch(shop.pk)


def test_an_upgrade_gives_the_tiers_upgrade_gift_once(shop):
    gift = tier_gift(shop, 2, Occasion.UPGRADE)
    member, stays = make_member(shop, 1), make_member(shop, 2)
    assign(shop, member, 2, local(2026, 4, 10, 9))

    deliver(shop)
    Cursor.objects.filter(shop=shop, consumer="coupons.tier_gifts").update(position=0)  # the chunk read again
    deliver(shop)

    assert coupons(shop, Source.TIER_UPGRADE) == [(member.pk, f"upgrade#{gift.pk}#2026#1#{member.pk}")]
    assert not Coupon.objects.filter(member=stays).exists()


def test_falling_and_rising_again_in_the_same_year_gives_no_second_upgrade_gift(shop):
    tier_gift(shop, 2, Occasion.UPGRADE)
    member = make_member(shop)
    assign(shop, member, 2, local(2026, 4, 10, 9))
    deliver(shop)
    assign(shop, member, 0, local(2026, 4, 11, 9))
    assign(shop, member, 2, local(2026, 4, 12, 9))
    deliver(shop)

    assert Coupon.objects.filter(member=member).count() == 1


def test_a_move_down_gives_nothing_and_a_rise_in_another_year_gives_again(shop):
    gift = tier_gift(shop, 1, Occasion.UPGRADE)
    down, rises = make_member(shop, 1), make_member(shop, 2)
    assign(shop, down, 2, local(2025, 4, 9, 9))
    assign(shop, down, 1, local(2026, 4, 10, 9))
    assign(shop, rises, 1, local(2025, 12, 31, 23))
    assign(shop, rises, 0, local(2026, 1, 1, 9))
    assign(shop, rises, 1, local(2026, 1, 2, 9))
    deliver(shop)

    assert coupons(shop, Source.TIER_UPGRADE) == [
        (rises.pk, f"upgrade#{gift.pk}#2025#1#{rises.pk}"),
        (rises.pk, f"upgrade#{gift.pk}#2026#1#{rises.pk}"),
    ]


# --- Birthdays -----------------------------------------------------------------------------------------------------


def test_the_birthday_gift_follows_the_shops_day_not_utc(shop):
    gift = tier_gift(shop, 0, Occasion.BIRTHDAY)
    today_here = make_member(shop, 1, birthday_month=3, birthday_day=15)
    today_in_utc = make_member(shop, 2, birthday_month=3, birthday_day=14)
    now = local(2026, 3, 15, 1)  # 14 March, 17:00 in UTC
    assert now.astimezone(UTC).day == 14

    issued = tier_gifts_issue(shop=shop, now=now)

    assert issued[Occasion.BIRTHDAY] == 1
    assert coupons(shop, Source.BIRTHDAY) == [(today_here.pk, f"birthday#{gift.pk}#2026#1#{today_here.pk}")]
    assert not Coupon.objects.filter(member=today_in_utc).exists()
    assert GiftRun.objects.filter(shop=shop, occasion="birthday").values_list("period", "issued").get() == (
        "2026-03-15",
        1,
    )


def test_the_birthday_run_happens_once_a_day(shop):
    tier_gift(shop, 0, Occasion.BIRTHDAY)
    make_member(shop, 1, birthday_month=3, birthday_day=15)
    tier_gifts_issue(shop=shop, now=local(2026, 3, 15, 1))
    make_member(shop, 2, birthday_month=3, birthday_day=15)  # joined later that day: the day's run is done

    assert tier_gifts_issue(shop=shop, now=local(2026, 3, 15, 20))[Occasion.BIRTHDAY] == 0
    assert Coupon.objects.count() == 1


@pytest.mark.parametrize(
    ("today", "gifted"),
    [
        (datetime.date(2027, 2, 28), {"29 Feb", "28 Feb"}),  # not a leap year: 29 February is celebrated on the 28th
        (datetime.date(2028, 2, 28), {"28 Feb"}),
        (datetime.date(2028, 2, 29), {"29 Feb"}),
        (datetime.date(2027, 3, 1), {"1 Mar"}),
    ],
)
def test_a_29_february_birthday_is_met_on_28_february_in_other_years(shop, today, gifted):
    tier_gift(shop, 0, Occasion.BIRTHDAY)
    members = {
        "29 Feb": make_member(shop, 1, birthday_month=2, birthday_day=29),
        "28 Feb": make_member(shop, 2, birthday_month=2, birthday_day=28),
        "1 Mar": make_member(shop, 3, birthday_month=3, birthday_day=1),
    }

    tier_gifts_issue(shop=shop, now=local(today.year, today.month, today.day, 9))

    holders = set(Coupon.objects.filter(shop=shop).values_list("member_id", flat=True))
    assert holders == {members[name].pk for name in gifted}


def test_birthday_gifts_go_to_the_tiers_active_members_only(shop):
    tier_gift(shop, 1, Occasion.BIRTHDAY)
    in_tier, base, frozen = (make_member(shop, n, birthday_month=6, birthday_day=1) for n in (1, 2, 3))
    for member in (in_tier, frozen):
        assign(shop, member, 1, local(2026, 5, 1, 9))
    member_set_frozen(shop=shop, actor=SYSTEM, member=frozen, frozen=True)

    tier_gifts_issue(shop=shop, now=local(2026, 6, 1, 9))

    assert list(Coupon.objects.values_list("member_id", flat=True)) == [in_tier.pk]


# --- Monthly packs, quantities, paused templates -------------------------------------------------------------------


def test_the_monthly_pack_comes_once_a_month_with_its_quantity(shop):
    gift = tier_gift(shop, 1, Occasion.MONTHLY, quantity=2)
    member = make_member(shop)
    assign(shop, member, 1, local(2026, 5, 20, 9))

    june = tier_gifts_issue(shop=shop, now=local(2026, 6, 1, 0, 30))
    later_in_june = tier_gifts_issue(shop=shop, now=local(2026, 6, 30, 23))
    july = tier_gifts_issue(shop=shop, now=local(2026, 7, 1, 0, 30))

    assert (june[Occasion.MONTHLY], later_in_june[Occasion.MONTHLY], july[Occasion.MONTHLY]) == (2, 0, 2)
    assert coupons(shop, Source.TIER_MONTHLY) == sorted(
        (member.pk, f"monthly#{gift.pk}#{month}#{n}#{member.pk}") for month in ("2026-06", "2026-07") for n in (1, 2)
    )


def test_the_month_is_the_shops_month(shop):
    tier_gift(shop, 1, Occasion.MONTHLY)
    member = make_member(shop)
    assign(shop, member, 1, local(2026, 5, 20, 9))

    tier_gifts_issue(shop=shop, now=datetime.datetime(2026, 6, 30, 17, tzinfo=UTC))  # 1 July, 01:00 in Shanghai

    assert GiftRun.objects.get(shop=shop, occasion="monthly").period == "2026-07"


def test_a_paused_template_issues_nothing(shop):
    gifts = [tier_gift(shop, 0, occasion) for occasion in (Occasion.BIRTHDAY, Occasion.MONTHLY)]
    upgrade = tier_gift(shop, 1, Occasion.UPGRADE)
    for gift in [*gifts, upgrade]:
        template_set_status(shop=shop, actor=SYSTEM, template=gift.template, status="paused")
    member = make_member(shop, birthday_month=6, birthday_day=1)
    upgraded = make_member(shop, 2)
    assign(shop, upgraded, 1, local(2026, 6, 1, 8))

    issued = tier_gifts_issue(shop=shop, now=local(2026, 6, 1, 9))
    deliver(shop)

    assert issued == {Occasion.BIRTHDAY: 0, Occasion.MONTHLY: 0}
    assert Coupon.objects.filter(member__in=[member, upgraded]).count() == 0


def test_an_upgrade_gift_of_quantity_two_gives_two(shop):
    gift = tier_gift(shop, 2, Occasion.UPGRADE, quantity=2)
    member = make_member(shop)
    assign(shop, member, 2, local(2026, 4, 10, 9))

    deliver(shop)
    assert coupons(shop, Source.TIER_UPGRADE) == [
        (member.pk, f"upgrade#{gift.pk}#2026#1#{member.pk}"),
        (member.pk, f"upgrade#{gift.pk}#2026#2#{member.pk}"),
    ]


def test_a_gift_template_out_of_stock_gives_what_is_left_and_the_run_still_ends(shop):
    tier_gift(shop, 0, Occasion.MONTHLY, stock=2)
    members = [make_member(shop, n) for n in range(3)]

    assert tier_gifts_issue(shop=shop, now=local(2026, 6, 1, 9))[Occasion.MONTHLY] == 2
    assert list(Coupon.objects.order_by("member_id").values_list("member_id", flat=True)) == [
        members[0].pk,
        members[1].pk,
    ]
    assert GiftRun.objects.filter(shop=shop, period="2026-06").exists()


# --- The periodic tasks, run eagerly -------------------------------------------------------------------------------


def test_the_hourly_task_gives_every_shop_its_gifts(shop, other_shop):
    for s in (shop, other_shop):
        tier_gift(s, 0, Occasion.MONTHLY)
        make_member(s)

    with time_machine.travel(local(2026, 6, 1, 9), tick=False):
        fanned_out = tier_gifts_all_shops.delay().get()

    assert fanned_out == 2
    assert Coupon.objects.filter(shop=shop, source=Source.TIER_MONTHLY).count() == 1
    assert Coupon.objects.filter(shop=other_shop, source=Source.TIER_MONTHLY).count() == 1


def test_the_nightly_task_expires_every_shops_due_coupons(shop, other_shop):
    from coupons.issuance import coupon_issue

    with time_machine.travel(local(2026, 6, 1, 9), tick=False):
        for s in (shop, other_shop):
            coupon_issue(
                shop=s,
                member=make_member(s),
                template=make_template(s, valid_days=1),
                idempotency_key="k",
                source="claim",
            )
    with time_machine.travel(local(2026, 6, 3, 0, 5), tick=False):
        assert coupons_expire_all_shops.delay().get() == 2

    assert list(Coupon.objects.values_list("status", flat=True)) == ["expired", "expired"]


def test_a_segment_grant_runs_its_task_after_the_commit(shop, django_capture_on_commit_callbacks):
    template = make_template(shop)
    members = [make_member(shop, n, region="上海市") for n in range(3)]
    make_member(shop, 9, region="北京市")
    segment = segment_save(shop=shop, actor=SYSTEM, name="上海", definition={"regions": ["上海市"]})

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = grant_create(shop=shop, actor=SYSTEM, template=template, segment=segment, idempotency_key="g")

    assert len(callbacks) == 1
    job.refresh_from_db()
    assert (job.status, job.members_total, job.issued) == (GrantStatus.DONE, 3, 3)
    assert sorted(Coupon.objects.values_list("member_id", "idempotency_key")) == [
        (m.pk, f"grant#{job.pk}#{m.pk}") for m in members
    ]
