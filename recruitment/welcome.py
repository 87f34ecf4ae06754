"""What joining through a channel does, in the joining transaction: the channel's tags, its welcome gift (points
and coupons, each issued once per member by its idempotency key) and one more join in its statistics."""

import datetime

from django.utils.translation import gettext as _

from coupons.errors import LimitReached, NotIssuable, OutOfStock
from coupons.issuance import coupon_issue
from coupons.models import Source
from members.models import Member
from members.tags import new_member_tag
from points.services import points_earn
from shops.models import Shop
from shops.services import SYSTEM, audit_record

from .models import Channel
from .selectors import channel_open, channel_tags, channel_welcome_templates
from .stats import joins_count


def welcome_key(member: Member) -> str:
    return f"welcome:{member.pk}"


def channel_join(*, shop: Shop, member: Member, channel: Channel, now: datetime.datetime | None = None) -> None:
    """Attribute a new member to `channel`: its tags, its welcome gift while it is open, and its join count.
    Safe to call again for the same member: the gifts are issued once (the count is the caller's to keep once)."""
    assert channel.shop_id == shop.pk and member.shop_id == shop.pk
    tags = channel_tags(shop=shop, channel=channel)
    if tags:
        new_member_tag(shop=shop, member=member, tags=tags)
    if channel_open(channel, now):
        welcome_gift_give(shop=shop, member=member, channel=channel)
    joins_count(shop=shop, channel=channel, now=now)


def welcome_gift_give(*, shop: Shop, member: Member, channel: Channel) -> None:
    """The channel's welcome points and coupons. A coupon that cannot be issued (out of stock, paused) does not
    stop the member joining: it is audited on the channel so the merchant sees the shortfall."""
    key = welcome_key(member)
    if channel.welcome_points:
        points_earn(
            shop=shop,
            member=member,
            points=channel.welcome_points,
            idempotency_key=key,
            reason=_("Welcome gift (%(channel)s)") % {"channel": channel.name},
        )
    for template in channel_welcome_templates(shop=shop, channel=channel):
        try:
            coupon_issue(
                shop=shop,
                member=member,
                template=template,
                idempotency_key=f"{key}:{template.pk}",
                source=Source.JOIN_GIFT,
                check_audience=False,
            )
        except (OutOfStock, NotIssuable, LimitReached) as exc:
            audit_record(
                shop=shop,
                actor=SYSTEM,
                action="channel.gift_missed",
                obj=channel,
                changes={"template": ["", str(template.pk)], "member": ["", str(member.pk)], "reason": ["", exc.code]},
            )
