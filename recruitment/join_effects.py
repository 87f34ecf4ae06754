"""What joining does in recruitment, run in the transaction that records it:

- member_joined (extension point MEMBER_JOINED, from members.services.member_enroll): attribution to the channel
  named by `join_channel` with its tags, welcome gift and join count, and the referral of `referrer_code`;
- first_purchases (extension point ORDERS_CREATED, from orders.services.orders_record): a buyer's first purchase
  gives the welcome gift of the join-on-purchase channel to buyers that the order enrolled, and rewards their
  pending referral when the shop rewards on first purchase."""

from datetime import datetime

from members.models import Member
from members.services import Enrolment
from orders.models import COUNTED_STATUSES
from orders.services import CreatedOrder
from shops.models import Shop

from .channels import purchase_channel
from .referrals import referral_record, referrals_first_purchase
from .selectors import channel_of_join, referrer_by_code
from .welcome import channel_join


def member_joined(*, shop: Shop, member: Member, data: Enrolment) -> None:
    channel = channel_of_join(shop=shop, join_channel=data.channel)
    if channel is not None:
        channel_join(shop=shop, member=member, channel=channel)
    if data.referrer_code:
        inviter = referrer_by_code(shop=shop, code=data.referrer_code)
        if inviter is not None:
            referral_record(shop=shop, invitee=member, inviter=inviter, ip=data.ip)


def first_purchases(*, shop: Shop, created: list[CreatedOrder], members: dict[int, dict], now: datetime) -> None:
    first_buyers = {
        c.member_id
        for c in created
        if c.member_id and c.data.status in COUNTED_STATUSES and members.get(c.member_id, {}).get("order_count") == 0
    }
    if not first_buyers:
        return
    # Buyers that this batch enrolled join through the purchase channel; members imported earlier with that
    # channel name are not joining now.
    if enrolled := sorted({c.member_id for c in created if c.buyer_enrolled} & first_buyers):
        channel = purchase_channel(shop=shop)
        for member in Member.objects.filter(shop=shop, pk__in=enrolled).order_by("pk"):
            channel_join(shop=shop, member=member, channel=channel, now=now)
    # Only a referred member has a pending referral (referral_record sets the referrer in the same transaction).
    referrals_first_purchase(
        shop=shop, member_ids={pk for pk in first_buyers if members[pk].get("referrer_id")}, now=now
    )
