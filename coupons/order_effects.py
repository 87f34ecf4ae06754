"""What order facts do to coupons (settings.ORDER_EFFECTS): an order refunded in full or cancelled gives back or
voids the coupons used on it, as each template says (coupons.redemption.coupons_reverse_for_order). Recording an
order does nothing here: coupons are redeemed through coupons/redeem/, which names the order."""

from collections import Counter

from orders.models import Order, OrderStatus, Refund
from shops.models import Shop

from .redemption import coupons_reverse_for_order


def orders_award(*, shop: Shop, orders: list, members: dict) -> None:
    return None


def orders_created(
    *, shop: Shop, created: list, members: dict, now, awarded: None
) -> tuple[dict[str, int], dict[str, Counter]]:
    return {}, {}


def refund_created(*, shop: Shop, order: Order, refund: Refund) -> None:
    if order.status == OrderStatus.REFUNDED:
        coupons_reverse_for_order(shop=shop, order_external_id=order.external_id)


def order_status_changed(*, shop: Shop, order: Order, previous: str) -> None:
    if order.status == OrderStatus.CANCELLED:
        coupons_reverse_for_order(shop=shop, order_external_id=order.external_id)
