"""The event triggers (SPEC 13): a consumer of domain events (events.consumers) that enters members into the shop's
switched-on automations: joined, tier changed upwards, order care (recorded, shipped, delivered, completed,
refunded), the survey after completion, and churn risk turned high (analytics' scores, SPEC 15).

It runs in the transaction that moves its cursor, so a chunk's journeys commit with the cursor or not at all; the
journeys' unique key (automation, member, occurrence) makes a chunk read twice enter nobody twice. After commit it
asks for the new journeys' first steps at once (commit-to-queued in seconds, not at the next minute's tick)."""

from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from coupons.models import Occasion
from coupons.tier_gifts import tier_gift_names
from events.consumers import Consumer, DomainEvent
from events.types import EventType
from orders.models import OrderStatus
from shops.models import Shop
from tiers.models import Tier

from .entry import journeys_enter
from .models import Automation, OrderStage, Trigger

TYPES = frozenset(
    {
        EventType.MEMBER_JOINED,
        EventType.TIER_CHANGED,
        EventType.ORDER_RECORDED,
        EventType.ORDER_STATUS_CHANGED,
        EventType.ORDER_REFUNDED,
        EventType.MEMBER_CHURN_RISK_CHANGED,
    }
)
EVENT_TRIGGERS = (Trigger.JOINED, Trigger.TIER_UP, Trigger.ORDER_CARE, Trigger.SURVEY, Trigger.CHURN_RISK)
STAGE_OF_STATUS = {
    OrderStatus.SHIPPED: OrderStage.SHIPPED,
    OrderStatus.DELIVERED: OrderStage.DELIVERED,
    OrderStatus.COMPLETED: OrderStage.COMPLETED,
}


def _order_entries(events: list[DomainEvent]) -> dict[tuple[str, str], list[tuple[int, str, str, dict]]]:
    """(trigger, stage) -> entries of the order events: a stage of order care, and the survey on completion."""
    entries = defaultdict(list)
    for event in events:
        if event.member_id is None or not event.type.startswith("order."):
            continue
        p = event.payload
        order_id, detail = str(p["order_id"]), {"order": p["external_id"]}
        if event.type == EventType.ORDER_RECORDED and p.get("status") != OrderStatus.CANCELLED:
            entries[(Trigger.ORDER_CARE, OrderStage.RECORDED)].append(
                (event.member_id, f"{order_id}#recorded", order_id, detail)
            )
            if p.get("status") == OrderStatus.COMPLETED:
                entries[(Trigger.SURVEY, "")].append((event.member_id, order_id, order_id, detail))
        elif event.type == EventType.ORDER_STATUS_CHANGED and (stage := STAGE_OF_STATUS.get(p["to"])):
            entries[(Trigger.ORDER_CARE, stage)].append((event.member_id, f"{order_id}#{stage}", order_id, detail))
            if stage == OrderStage.COMPLETED:
                entries[(Trigger.SURVEY, "")].append((event.member_id, order_id, order_id, detail))
        elif event.type == EventType.ORDER_REFUNDED:
            occurrence = f"{order_id}#refund#{p['refund_id']}"
            entries[(Trigger.ORDER_CARE, OrderStage.REFUNDED)].append((event.member_id, occurrence, order_id, detail))
    return entries


def _tier_entries(shop: Shop, events: list[DomainEvent]) -> list[tuple[int, str, str, dict]]:
    """Rises to a higher tier, each its own occurrence, naming the new tier's upgrade gift."""
    rank = dict(Tier.objects.filter(shop=shop).values_list("pk", "rank"))
    base = next((pk for pk, r in rank.items() if r == 0), None)
    gifts = tier_gift_names(shop=shop, occasion=Occasion.UPGRADE)
    entries = []
    for event in events:
        if event.type != EventType.TIER_CHANGED or event.member_id is None:
            continue
        to_tier, from_tier = event.payload["to_tier_id"], event.payload["from_tier_id"]
        if rank.get(to_tier or base, 0) > rank.get(from_tier or base, 0):
            gift = gifts.get(None if to_tier == base else to_tier, "")
            entries.append((event.member_id, str(event.payload["change_id"]), str(to_tier), {"gift": gift}))
    return entries


def automations_on_events(*, shop: Shop, events: list[DomainEvent]) -> int:
    """Enter the members of these events into the shop's switched-on event automations. Returns journeys entered."""
    automations = list(Automation.objects.filter(shop=shop, enabled=True, trigger__in=[*EVENT_TRIGGERS]).order_by("pk"))
    if not automations:
        return 0
    now = timezone.now()
    joined = [(e.member_id, "joined", "", {}) for e in events if e.type == EventType.MEMBER_JOINED and e.member_id]
    # Churn risk turned high (analytics' nightly scores): each turn its own occurrence, the re-entry rule spacing them.
    at_risk = [
        (e.member_id, f"high#{e.seq}", "", {})
        for e in events
        if e.type == EventType.MEMBER_CHURN_RISK_CHANGED and e.member_id and e.payload.get("to") == "high"
    ]
    orders = _order_entries(events)
    tiers = _tier_entries(shop, events) if any(a.trigger == Trigger.TIER_UP for a in automations) else []
    entered = 0
    for automation in automations:
        if automation.trigger == Trigger.JOINED:
            entries = joined
        elif automation.trigger == Trigger.TIER_UP:
            entries = tiers
        elif automation.trigger == Trigger.CHURN_RISK:
            entries = at_risk
        elif automation.trigger == Trigger.ORDER_CARE:
            entries = orders.get((Trigger.ORDER_CARE, automation.order_stage), [])
        else:
            entries = orders.get((Trigger.SURVEY, ""), [])
        entered += journeys_enter(shop=shop, automation=automation, entries=entries, now=now)
    if entered:
        from .tasks import automations_advance_shop

        transaction.on_commit(lambda: automations_advance_shop.delay(shop.pk))
    return entered


TRIGGERS = Consumer("automations.triggers", types=TYPES, handle=automations_on_events)
