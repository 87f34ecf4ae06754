"""Joining through a channel: the channel's tags, its welcome gift (once), its join count; through the API with a
channel code, and by a first purchase when the shop enrols buyers."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from coupons.models import Coupon, Source
from members.models import Member, MemberTag
from members.services import Enrolment, member_enroll, members_bulk_enroll
from members.tags import tag_create
from orders.services import OrderInput, order_record
from points.models import PointsEntry
from recruitment.channels import ChannelInput, channel_update, purchase_channel
from recruitment.models import ChannelDay
from recruitment.stats import channels_figures
from recruitment.welcome import channel_join
from shops.models import AuditLogEntry
from shops.services import SYSTEM
from tests.coupons.helpers import make_template

from .helpers import join, make_channel


@pytest.fixture
def gift_channel(shop):
    tag = tag_create(shop=shop, actor=SYSTEM, name="门店新客")
    template = make_template(shop, name="新人券", stock=100)
    channel = make_channel(shop, welcome_points=200, welcome_coupon_ids=[template.pk], tag_ids=[tag.pk])
    return channel, template, tag


def test_joining_through_a_channel_gives_its_tags_gift_and_one_join(shop, gift_channel):
    channel, template, tag = gift_channel

    member, created = join(shop, 1, channel=channel.code)

    assert created
    member.refresh_from_db()
    assert member.join_channel == channel.code
    assert member.points_balance == 200
    entry = PointsEntry.objects.get(member=member)
    assert (entry.points, entry.idempotency_key) == (200, f"welcome:{member.pk}")
    coupon = Coupon.objects.get(member=member)
    assert (coupon.template_id, coupon.source) == (template.pk, Source.JOIN_GIFT)
    assert list(MemberTag.objects.filter(member=member).values_list("tag_id", flat=True)) == [tag.pk]
    tag.refresh_from_db()
    assert tag.member_count == 1
    assert channels_figures(shop=shop, channel_ids=[channel.pk])[channel.pk].joins == 1


def test_a_phone_that_is_already_a_member_gets_nothing_again(shop, gift_channel):
    channel, _template, _tag = gift_channel
    member, _ = join(shop, 1, channel=channel.code)

    again, created = join(shop, 1, channel=channel.code)

    assert (again.pk, created) == (member.pk, False)
    assert Member.objects.get(pk=member.pk).points_balance == 200
    assert Coupon.objects.filter(member=member).count() == 1
    assert ChannelDay.objects.get(channel=channel).joins == 1


def test_the_gift_is_given_once_even_if_the_join_is_attributed_twice(shop, gift_channel):
    channel, _template, _tag = gift_channel
    member, _ = join(shop, 1, channel=channel.code)

    channel_join(shop=shop, member=member, channel=channel)

    assert Member.objects.get(pk=member.pk).points_balance == 200
    assert Coupon.objects.filter(member=member).count() == 1


def test_a_closed_channel_attributes_the_member_without_a_gift(shop, gift_channel):
    channel, _template, _tag = gift_channel
    channel.valid_until = timezone.now() - datetime.timedelta(days=1)
    channel.valid_from = channel.valid_until - datetime.timedelta(days=30)
    channel.save()

    member, _ = join(shop, 1, channel=channel.code)

    assert Member.objects.get(pk=member.pk).points_balance == 0
    assert not Coupon.objects.filter(member=member).exists()
    assert ChannelDay.objects.get(channel=channel).joins == 1


def test_a_welcome_coupon_out_of_stock_does_not_stop_the_join_and_is_audited(shop):
    template = make_template(shop, name="限量券", stock=1)
    channel = make_channel(shop, welcome_coupon_ids=[template.pk])
    join(shop, 1, channel=channel.code)

    member, created = join(shop, 2, channel=channel.code)

    assert created
    assert not Coupon.objects.filter(member=member).exists()
    missed = AuditLogEntry.objects.get(shop=shop, action="channel.gift_missed")
    assert missed.changes["reason"] == ["", "out_of_stock"]


def test_an_unknown_or_foreign_channel_code_attributes_nothing(shop, other_shop):
    foreign = make_channel(other_shop, welcome_points=500)

    member, _ = join(shop, 1, channel=foreign.code)

    assert Member.objects.get(pk=member.pk).points_balance == 0
    assert not ChannelDay.objects.exists()


def test_the_api_enrols_through_a_channel_code_with_its_gift(shop, api_client, gift_channel):
    channel, _template, _tag = gift_channel

    response = api_client.post(
        "/api/v1/members/", {"phone": "13900130009", "channel": channel.code.lower()}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["points_balance"] == 200
    assert ChannelDay.objects.get(channel=channel).joins == 1


def test_imports_do_not_give_welcome_gifts(shop, gift_channel):
    channel, _template, _tag = gift_channel
    members_bulk_enroll(
        shop=shop, enrolments=[Enrolment(phone="+8613900130001", channel=channel.code)], source="import"
    )

    assert not PointsEntry.objects.exists()
    assert not ChannelDay.objects.exists()


def test_a_buyer_enrolled_by_an_order_joins_through_the_purchase_channel(shop):
    shop.join_on_purchase = True
    shop.save()
    channel = purchase_channel(shop=shop)
    template = make_template(shop, name="首单礼")
    gift = ChannelInput(name=channel.name, welcome_points=88, welcome_coupon_ids=[template.pk])
    channel_update(shop=shop, actor=SYSTEM, channel=channel, data=gift)

    order_record(
        shop=shop,
        data=OrderInput(external_id="P-1", phone="+8613900130005", amount=Decimal("50.00"), paid_at=timezone.now()),
    )
    order_record(
        shop=shop,
        data=OrderInput(external_id="P-2", phone="+8613900130005", amount=Decimal("60.00"), paid_at=timezone.now()),
    )

    member = Member.objects.get(shop=shop, phone="+8613900130005")
    assert member.join_channel == "purchase"
    welcome = PointsEntry.objects.get(member=member, idempotency_key=f"welcome:{member.pk}")
    assert welcome.points == 88
    assert Coupon.objects.filter(member=member, source=Source.JOIN_GIFT).count() == 1
    assert ChannelDay.objects.get(channel=channel).joins == 1


def test_a_member_imported_with_the_purchase_channel_is_not_joining_at_the_first_order(shop):
    shop.join_on_purchase = True
    shop.save()
    channel = purchase_channel(shop=shop)
    past = timezone.now() - datetime.timedelta(days=400)
    members_bulk_enroll(
        shop=shop, enrolments=[Enrolment(phone="+8613900130007", channel="purchase", joined_at=past)], source="import"
    )

    order_record(
        shop=shop,
        data=OrderInput(external_id="P-4", phone="+8613900130007", amount=Decimal("50.00"), paid_at=timezone.now()),
    )

    assert not ChannelDay.objects.filter(channel=channel).exists()


def test_an_existing_member_buying_for_the_first_time_is_not_a_purchase_join(shop):
    shop.join_on_purchase = True
    shop.save()
    channel = purchase_channel(shop=shop)
    member = member_enroll(shop=shop, data=Enrolment(phone="13900130006"))[0]

    order_record(
        shop=shop,
        data=OrderInput(external_id="P-3", member_id=member.pk, amount=Decimal("50.00"), paid_at=timezone.now()),
    )

    assert not ChannelDay.objects.filter(channel=channel).exists()
