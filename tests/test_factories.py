"""The factories build through the services and keep children on their parent's shop."""

from decimal import Decimal

import pytest

from coupons.models import CouponStatus, Source
from shops.models import AuditLogEntry

from .factories import ChannelFactory, CouponFactory, CouponTemplateFactory, MemberFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_an_order_is_recorded_on_its_members_shop_and_updates_the_members_figures(shop, other_shop):
    member = MemberFactory(shop=shop, name="甲")
    MemberFactory(shop=other_shop)

    order = OrderFactory(member=member, amount="88.50")

    member.refresh_from_db()
    assert (order.shop_id, order.member_id, order.amount) == (shop.pk, member.pk, Decimal("88.50"))
    assert (member.name, member.join_channel, member.order_count, member.lifetime_spend) == (
        "甲",
        "",
        1,
        Decimal("88.50"),
    )


def test_a_coupon_is_issued_on_its_members_shop_from_a_template_made_there(shop, other_shop):
    member = MemberFactory(shop=shop)

    coupon = CouponFactory(member=member)

    assert (coupon.shop_id, coupon.template.shop_id, coupon.member_id) == (shop.pk, shop.pk, member.pk)
    coupon.template.refresh_from_db()
    assert (coupon.source, coupon.status, coupon.template.issued) == (Source.GRANT, CouponStatus.AVAILABLE, 1)
    with pytest.raises(AssertionError):
        CouponFactory(member=member, template=CouponTemplateFactory(shop=other_shop))


def test_templates_and_channels_are_made_by_their_services_with_an_audit_trail(shop):
    template = CouponTemplateFactory(shop=shop, valid_until="2030-01-01T00:00:00+08:00")
    channel = ChannelFactory(shop=shop, welcome_points=10, welcome_coupon_ids=[template.pk])

    assert (template.valid_days, channel.welcome_points) == (None, 10)
    assert list(channel.welcome_coupons.values_list("pk", flat=True)) == [template.pk]
    actions = set(AuditLogEntry.objects.filter(shop=shop).values_list("action", flat=True))
    assert {"coupon_template.create", "channel.create"} <= actions


def test_a_phone_that_is_a_member_already_is_an_error_not_that_member(shop):
    member = MemberFactory(shop=shop)

    with pytest.raises(AssertionError, match="is a member of shop"):
        MemberFactory(shop=shop, phone=member.phone)
