"""Referrals: recorded once per invitee phone, rewarded once on the shop's trigger, and stopped by the fraud
controls (self-referral, the inviter's cap per period, joins per address a day), each refusal kept with its
reason."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from coupons.models import Coupon, Source
from members.models import Member
from members.services import member_erase, member_set_frozen
from members.timeline import member_data_export, member_timeline
from orders.services import OrderInput, order_record
from points.models import PointsEntry
from recruitment.models import Referral, ReferralStatus
from recruitment.selectors import referral_leaderboard, referrals_of_inviter
from shops.services import SYSTEM
from tests.coupons.helpers import make_template

from .helpers import invite_code, join, make_channel, program


@pytest.fixture
def inviter(shop):
    return join(shop, 0)[0]


def balance(member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def test_a_referred_join_rewards_both_once(shop, inviter):
    coupon = make_template(shop, name="邀请券")
    program(shop, inviter_coupon=coupon)

    invitee, _ = join(shop, 1, referrer_code=invite_code(shop, inviter))

    referral = Referral.objects.get(shop=shop)
    assert (referral.inviter_id, referral.invitee_id, referral.status) == (inviter.pk, invitee.pk, "rewarded")
    assert Member.objects.get(pk=invitee.pk).referrer_id == inviter.pk
    assert (balance(inviter), balance(invitee)) == (100, 50)
    assert Coupon.objects.get(member=inviter).source == Source.REFERRAL
    assert referrals_of_inviter(shop=shop, member=inviter) == {"invited": 1, "rewarded": 1, "pending": 0}


def test_referral_codes_are_case_insensitive_and_stable(shop, inviter):
    code = invite_code(shop, inviter)
    assert invite_code(shop, inviter) == code and len(code) == 8
    program(shop)

    join(shop, 1, referrer_code=code.lower())

    assert Referral.objects.filter(inviter=inviter).count() == 1


def test_an_unknown_or_foreign_code_records_nothing(shop, other_shop, inviter):
    foreign = join(other_shop, 5)[0]
    program(shop)

    join(shop, 1, referrer_code=invite_code(other_shop, foreign))
    join(shop, 2, referrer_code="NOSUCH99")

    assert not Referral.objects.exists()


def test_an_existing_member_using_a_link_changes_nothing(shop, inviter):
    program(shop)
    member, _ = join(shop, 1)

    again, created = join(shop, 1, referrer_code=invite_code(shop, inviter))

    assert (again.pk, created) == (member.pk, False)
    assert not Referral.objects.exists()
    assert balance(inviter) == 0


def test_an_invitee_phone_is_rewarded_once_ever_even_after_erasure(shop, inviter):
    program(shop)
    code = invite_code(shop, inviter)
    invitee, _ = join(shop, 1, referrer_code=code)
    member_erase(shop=shop, member=invitee, actor=SYSTEM)

    rejoined, created = join(shop, 1, referrer_code=code)

    assert created and rejoined.pk != invitee.pk
    assert Referral.objects.count() == 1
    assert balance(inviter) == 100
    assert Member.objects.get(pk=rejoined.pk).referrer_id is None


def test_the_inviter_cap_per_period_refuses_beyond_it_and_opens_again_next_period(shop, inviter):
    program(shop, inviter_cap=2, cap_period="day")
    code = invite_code(shop, inviter)
    start = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False) as clock:
        for n in (1, 2, 3):
            join(shop, n, referrer_code=code)
        clock.shift(datetime.timedelta(days=1))
        join(shop, 4, referrer_code=code)

    statuses = list(Referral.objects.order_by("invitee_id").values_list("status", "refusal"))
    assert statuses == [("rewarded", ""), ("rewarded", ""), ("refused", "inviter_cap"), ("rewarded", "")]
    assert balance(inviter) == 300


def test_joins_from_one_address_beyond_the_daily_limit_are_not_rewarded(shop, inviter):
    program(shop, ip_daily_limit=2)
    code = invite_code(shop, inviter)

    for n in (1, 2, 3):
        join(shop, n, referrer_code=code, ip="198.51.100.9")
    join(shop, 4, referrer_code=code, ip="198.51.100.10")

    refusals = list(Referral.objects.order_by("invitee_id").values_list("refusal", flat=True))
    assert refusals == ["", "", "ip_velocity", ""]
    assert balance(inviter) == 300


def test_with_rewards_off_the_referral_is_recorded_without_reward(shop, inviter):
    program(shop, enabled=False)

    join(shop, 1, referrer_code=invite_code(shop, inviter))

    referral = Referral.objects.get()
    assert (referral.status, referral.refusal) == ("refused", "program_disabled")
    assert balance(inviter) == 0


def test_a_frozen_inviter_is_not_rewarded(shop, inviter):
    program(shop)
    member_set_frozen(shop=shop, member=inviter, actor=SYSTEM, frozen=True)

    join(shop, 1, referrer_code=invite_code(shop, inviter))

    assert Referral.objects.get().refusal == "inviter_inactive"
    assert not PointsEntry.objects.exists()


def test_on_first_purchase_the_reward_waits_for_the_first_order_and_comes_once(shop, inviter):
    program(shop, trigger="first_purchase")
    invitee, _ = join(shop, 1, referrer_code=invite_code(shop, inviter))
    assert Referral.objects.get().status == ReferralStatus.PENDING
    assert balance(inviter) == 0

    for n in (1, 2):
        order_record(
            shop=shop,
            data=OrderInput(
                external_id=f"R-{n}", member_id=invitee.pk, amount=Decimal("10.00"), paid_at=timezone.now()
            ),
        )

    assert Referral.objects.get().status == ReferralStatus.REWARDED
    assert balance(inviter) == 100
    assert PointsEntry.objects.filter(member=inviter).count() == 1


def test_the_leaderboard_ranks_inviters_by_rewarded_then_invited(shop):
    program(shop, inviter_cap=1)
    first, second = join(shop, 100)[0], join(shop, 101)[0]
    for n in (1, 2, 3):
        join(shop, n, referrer_code=invite_code(shop, second))  # one rewarded, two over the cap
    join(shop, 4, referrer_code=invite_code(shop, first))

    board = referral_leaderboard(shop=shop)

    assert [(row["member"].pk, row["rewarded"], row["invited"]) for row in board] == [
        (second.pk, 1, 3),
        (first.pk, 1, 1),
    ]


def test_the_privacy_export_and_timeline_tell_the_channel_and_the_referrals(shop, inviter):
    channel = make_channel(shop, name="海报")
    program(shop)
    invitee, _ = join(shop, 1, channel=channel.code, referrer_code=invite_code(shop, inviter))

    exported = member_data_export(shop=shop, member=invitee)
    assert (exported["joined_through"], exported["invited_by_member_id"]) == ("海报", inviter.pk)
    inviter_export = member_data_export(shop=shop, member=inviter)
    assert [r["invitee_member_id"] for r in inviter_export["referrals"]] == [invitee.pk]
    titles = [event.title for event in member_timeline(shop=shop, member=invitee)]
    assert "Joined through 海报" in titles
