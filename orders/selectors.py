from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from members.models import Member
from shops.models import Shop

from .models import Order, OrderItem, Refund


def order_get_by_external_id(*, shop: Shop, external_id: str) -> Order:
    """Raises Order.DoesNotExist for a missing or another shop's order alike."""
    return Order.objects.get(shop=shop, external_id=external_id)


def order_list(*, shop: Shop) -> QuerySet[Order]:
    return Order.objects.filter(shop=shop).select_related("member").order_by("-paid_at", "-pk")


# --- Dashboard reads -------------------------------------------------------------------------------------------


@dataclass
class OrderPage:
    """One page of the order list, newest first, with the anchors of the neighbouring pages (order ids)."""

    orders: list[Order]
    next_after: int | None
    prev_before: int | None


def order_get(*, shop: Shop, pk: int) -> Order:
    """Raises Order.DoesNotExist for a missing or another shop's order alike."""
    return Order.objects.select_related("member").get(shop=shop, pk=pk)


def order_items(*, shop: Shop, order: Order) -> QuerySet[OrderItem]:
    return OrderItem.objects.filter(shop=shop, order=order).order_by("pk")


def order_refunds(*, shop: Shop, order: Order) -> QuerySet[Refund]:
    return Refund.objects.filter(shop=shop, order=order).order_by("refunded_at", "pk")


def order_page(
    *,
    shop: Shop,
    status: str = "",
    paid_from: datetime | None = None,
    paid_until: datetime | None = None,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> OrderPage:
    """Orders newest first (paid time, then id), keyset-paginated from an anchor order: no OFFSET, so the last page
    of ten million orders costs what the first does. `paid_until` is exclusive. An anchor that is not an order of
    the shop gives the first page."""
    qs = Order.objects.filter(shop=shop).select_related("member")
    if status:
        qs = qs.filter(status=status)
    if paid_from:
        qs = qs.filter(paid_at__gte=paid_from)
    if paid_until:
        qs = qs.filter(paid_at__lt=paid_until)
    anchor_id = after or before
    anchor = Order.objects.filter(shop=shop, pk=anchor_id).values("paid_at", "pk").first() if anchor_id else None
    if anchor is None:
        rows = list(qs.order_by("-paid_at", "-pk")[: limit + 1])
        return OrderPage(rows[:limit], next_after=rows[limit - 1].pk if len(rows) > limit else None, prev_before=None)
    at, pk = anchor["paid_at"], anchor["pk"]
    if after:
        rows = list(
            qs.filter(paid_at__lte=at)
            .filter(Q(paid_at__lt=at) | Q(paid_at=at, pk__lt=pk))
            .order_by("-paid_at", "-pk")[: limit + 1]
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return OrderPage(rows, next_after=rows[-1].pk if more else None, prev_before=rows[0].pk if rows else None)
    rows = list(
        qs.filter(paid_at__gte=at)
        .filter(Q(paid_at__gt=at) | Q(paid_at=at, pk__gt=pk))
        .order_by("paid_at", "pk")[: limit + 1]
    )
    if len(rows) <= limit:  # back at the start: the first page as it is now, full
        return order_page(shop=shop, status=status, paid_from=paid_from, paid_until=paid_until, limit=limit)
    rows = rows[:limit][::-1]
    return OrderPage(rows, next_after=rows[-1].pk, prev_before=rows[0].pk)


def orders_of_member(*, shop: Shop, member: Member) -> QuerySet[Order]:
    """A member's orders, newest first."""
    return Order.objects.filter(shop=shop, member=member).order_by("-paid_at", "-pk")


def refunds_of_member(*, shop: Shop, member: Member) -> QuerySet[Refund]:
    """Refunds of a member's orders, newest first."""
    return (
        Refund.objects.filter(shop=shop, order__member=member).select_related("order").order_by("-refunded_at", "-pk")
    )


def order_items_of_orders(*, shop: Shop, order_ids: list[int]) -> dict[int, list[OrderItem]]:
    """Items per order, in one query."""
    result: dict[int, list[OrderItem]] = {pk: [] for pk in order_ids}
    for item in OrderItem.objects.filter(shop=shop, order_id__in=order_ids).order_by("pk"):
        result[item.order_id].append(item)
    return result
