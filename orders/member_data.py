"""What orders knows about a member, for the member's timeline and privacy export (members.timeline; registered
for the extension point MEMBER_DATA)."""

from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from members.models import Member
from members.timeline import TimelineEvent
from shops.models import Shop

from .models import OrderStatus
from .selectors import order_items_of_orders, orders_of_member, refunds_of_member


def _money(shop: Shop, amount) -> str:
    return f"{shop.currency} {number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)}"


def timeline(*, shop: Shop, member: Member, limit: int) -> list[TimelineEvent]:
    """The member's latest orders and refunds (each at most `limit`), newest first."""
    statuses = dict(OrderStatus.choices)
    events = []
    for order in orders_of_member(shop=shop, member=member)[:limit]:
        events.append(
            TimelineEvent(
                at=order.paid_at,
                kind="order",
                title=_("Order %(number)s") % {"number": order.external_id},
                detail=f"{_money(shop, order.amount)} · {statuses.get(order.status, order.status)}",
                url=reverse("dashboard:order", kwargs={"shop_slug": shop.slug, "pk": order.pk}),
            )
        )
    for refund in refunds_of_member(shop=shop, member=member)[:limit]:
        events.append(
            TimelineEvent(
                at=refund.refunded_at,
                kind="refund",
                title=_("Refund on order %(number)s") % {"number": refund.order.external_id},
                detail=_money(shop, refund.amount),
                url=reverse("dashboard:order", kwargs={"shop_slug": shop.slug, "pk": refund.order_id}),
            )
        )
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:limit]


def export(*, shop: Shop, member: Member) -> dict:
    """Every order of the member with its items, and every refund."""
    orders = list(orders_of_member(shop=shop, member=member))
    items = order_items_of_orders(shop=shop, order_ids=[o.pk for o in orders])
    return {
        "orders": [
            {
                "external_id": o.external_id,
                "amount": o.amount,
                "refunded_amount": o.refunded_amount,
                "status": o.status,
                "paid_at": o.paid_at,
                "completed_at": o.completed_at,
                "points_earned": o.points_earned,
                "items": [
                    {
                        "sku": i.sku,
                        "name": i.name,
                        "category": i.category,
                        "quantity": i.quantity,
                        "unit_price": i.unit_price,
                    }
                    for i in items[o.pk]
                ],
            }
            for o in orders
        ],
        "refunds": [
            {
                "external_id": r.external_id,
                "order": r.order.external_id,
                "amount": r.amount,
                "refunded_at": r.refunded_at,
            }
            for r in refunds_of_member(shop=shop, member=member)
        ],
    }
