"""The rollups' consumer of domain events (SPEC 9 and 14): it marks the shop-local days whose facts changed, so the
next daily pass redoes them. An order's events mark its payment day (a refund of last month's order corrects last
month's day); every other event marks the day it happened. Marking is idempotent (a day is marked once), so a
chunk read twice changes nothing."""

import datetime

from events.consumers import Consumer, DomainEvent
from events.types import EventType
from orders.models import Order
from shops.models import Shop
from shops.time import local_date

from .models import DirtyDay

ORDER_EVENTS = {EventType.ORDER_RECORDED, EventType.ORDER_REFUNDED, EventType.ORDER_STATUS_CHANGED}
TYPES = frozenset(
    {
        *ORDER_EVENTS,
        EventType.MEMBER_JOINED,
        EventType.POINTS_POSTED,
        EventType.TIER_CHANGED,
        EventType.COUPON_ISSUED,
        EventType.COUPON_REDEEMED,
        EventType.REFERRAL_REWARDED,
    }
)


def days_touched(*, shop: Shop, events: list[DomainEvent]) -> set:
    days = {local_date(shop, e.occurred_at) for e in events if e.type not in ORDER_EVENTS}
    recorded = [e.payload["paid_at"] for e in events if e.type == EventType.ORDER_RECORDED and "paid_at" in e.payload]
    days |= {local_date(shop, datetime.datetime.fromisoformat(moment)) for moment in recorded}
    order_ids = {
        e.payload.get("order_id") for e in events if e.type in ORDER_EVENTS and e.type != EventType.ORDER_RECORDED
    } - {None}
    paid = Order.objects.filter(shop=shop, pk__in=order_ids).values_list("paid_at", flat=True)
    days |= {local_date(shop, moment) for moment in paid}
    return days


def mark_dirty(*, shop: Shop, events: list[DomainEvent]) -> None:
    days = days_touched(shop=shop, events=events)
    DirtyDay.objects.bulk_create([DirtyDay(shop=shop, day=day) for day in sorted(days)], ignore_conflicts=True)


ROLLUPS = Consumer("analytics.rollups", handle=mark_dirty, types=TYPES)
