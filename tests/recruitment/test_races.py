"""Recruitment races on real PostgreSQL connections (and Redis for the codes): welcome-gift stock, the join
counter, the inviter's cap and single-use codes hold however many requests arrive at once."""

import re

import pytest

from coupons.models import Coupon
from members.models import Member
from recruitment import otp
from recruitment.errors import CodeRejected, RateLimited
from recruitment.models import ChannelDay, Referral
from shops.sms import LocmemBackend
from tests.concurrency import in_scope, race
from tests.coupons.helpers import make_template

from .helpers import invite_code, join, make_channel, program

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_sixteen_joins_at_once_count_sixteen_and_issue_exactly_the_gift_stock(shop):
    template = make_template(shop, name="新人券", stock=10)
    channel = make_channel(shop, welcome_points=20, welcome_coupon_ids=[template.pk])

    results = race([in_scope(shop, lambda n=n: join(shop, n, channel=channel.code)) for n in range(16)])

    assert all(created for _member, created in results), results
    assert ChannelDay.objects.get(channel=channel).joins == 16
    assert Coupon.objects.filter(template=template).count() == 10
    assert sum(Member.objects.filter(shop=shop).values_list("points_balance", flat=True)) == 16 * 20


def test_one_phone_joining_eight_times_at_once_is_one_member_with_one_gift(shop):
    channel = make_channel(shop, welcome_points=20)

    results = race([in_scope(shop, lambda: join(shop, 1, channel=channel.code)) for _ in range(8)])

    assert sum(created for _member, created in results) == 1
    member = Member.objects.get(shop=shop)
    assert member.points_balance == 20
    assert ChannelDay.objects.get(channel=channel).joins == 1


def test_twelve_invitees_at_once_reward_the_inviter_exactly_up_to_the_cap(shop):
    inviter = join(shop, 0)[0]
    program(shop, inviter_cap=3, cap_period="month")
    code = invite_code(shop, inviter)

    race([in_scope(shop, lambda n=n: join(shop, n, referrer_code=code)) for n in range(1, 13)])

    assert Referral.objects.filter(status="rewarded").count() == 3
    assert Referral.objects.filter(refusal="inviter_cap").count() == 9
    assert Member.objects.get(pk=inviter.pk).points_balance == 300


def test_a_code_verified_by_eight_requests_at_once_lets_one_in(shop, settings):
    settings.SMS_BACKEND = "locmem"
    otp.otp_send(shop=shop, phone="13800138000", ip="203.0.113.7")
    code = re.search(r"\b(\d{6})\b", LocmemBackend.outbox[-1].text).group(1)

    results = race([lambda: otp.otp_verify(shop=shop, phone="13800138000", code=code) for _ in range(8)])

    assert results.count("+8613800138000") == 1, results
    # The others are refused: the code was used, or (beyond 5 attempts) the attempts ran out.
    assert sum(isinstance(r, CodeRejected | RateLimited) for r in results) == 7, results


def test_twelve_codes_asked_at_once_by_two_shops_for_one_phone_send_five(shop, other_shop, settings):
    settings.SMS_BACKEND = "locmem"
    sends = [
        in_scope(sender, lambda sender=sender, i=i: otp.otp_send(shop=sender, phone="13800138000", ip=f"203.0.113.{i}"))
        for i, sender in enumerate([shop, other_shop] * 6)
    ]

    results = race(sends)

    assert results.count("+8613800138000") == 5, results
    assert sum(isinstance(r, RateLimited) for r in results) == 7, results
    assert len([m for m in LocmemBackend.outbox if m.phone == "+8613800138000"]) == 5
