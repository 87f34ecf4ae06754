"""What order facts do in recruitment (settings.ORDER_EFFECTS): a buyer's first purchase gives the welcome gift
of the join-on-purchase channel to buyers that the order enrolled, and rewards their pending referral when the shop
rewards on first purchase."""

from collections import Counter

from members.models import Member
from orders.models import COUNTED_STATUSES, Order, Refund
from shops.models import Shop

from .channels import purchase_channel
from .referrals import referrals_first_purchase
from .welcome import channel_join


def orders_award(*, shop: Shop, orders: list, members: dict) -> None:
    return None


def orders_created(
    *, shop: Shop, created: list, members: dict, now, awarded: None
) -> tuple[dict[str, int], dict[str, Counter]]:
    first_buyers = {
        c.member_id
        for c in created
        if c.member_id and c.data.status in COUNTED_STATUSES and members.get(c.member_id, {}).get("order_count") == 0
    }
    if not first_buyers:
        return {}, {}
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
    return {}, {}


def refund_created(*, shop: Shop, order: Order, refund: Refund) -> None:
    return None


def order_status_changed(*, shop: Shop, order: Order, previous: str) -> None:
    return None
