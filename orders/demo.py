"""Demo orders for `manage.py seed_demo`: a year of purchases across categories, recorded through the same
set-based service as the API (so aggregates are exactly what production would hold)."""

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from members.selectors import member_search
from shops.models import Shop

from .selectors import order_list
from .services import MAX_BATCH, ItemInput, OrderInput, OrderStatus, orders_record

CATALOGUE = {
    "咖啡": [("CF-LATTE", "拿铁", "32.00"), ("CF-AMER", "美式", "26.00"), ("CF-BEAN", "咖啡豆 250g", "98.00")],
    "母婴": [("MB-WIPE", "婴儿湿巾", "39.90"), ("MB-DIAP", "纸尿裤 L", "129.00")],
    "美妆": [("BE-MASK", "补水面膜 10片", "89.00"), ("BE-LIP", "口红", "199.00")],
    "食品": [("FD-NUTS", "每日坚果", "69.00"), ("FD-TEA", "龙井 100g", "158.00")],
    "家居": [("HM-MUG", "陶瓷马克杯", "49.00"), ("HM-CANDLE", "香薰蜡烛", "79.00")],
}


def seed_orders(*, shop: Shop, rng: random.Random, members: int) -> str:
    if order_list(shop=shop).exists():
        return "orders: kept"
    now = timezone.now()
    buyers = list(member_search(shop=shop).values_list("pk", flat=True))
    orders = []
    for n in range(members * 4):
        items = []
        for category in rng.sample(list(CATALOGUE), rng.choice([1, 1, 2])):
            sku, name, price = rng.choice(CATALOGUE[category])
            items.append(
                ItemInput(
                    sku=sku, name=name, category=category, quantity=rng.choice([1, 1, 2, 3]), unit_price=Decimal(price)
                )
            )
        amount = sum((i.unit_price * i.quantity for i in items), Decimal(0))
        member_id = rng.choice(buyers) if buyers and rng.random() < 0.8 else None  # a fifth are non-member sales
        orders.append(
            OrderInput(
                external_id=f"DEMO{n + 1:07d}",
                member_id=member_id,
                amount=amount,
                paid_at=now - timedelta(days=rng.triangular(0, 365, 30), minutes=rng.randint(0, 600)),
                status=OrderStatus.COMPLETED if rng.random() < 0.9 else OrderStatus.PAID,
                items=tuple(items),
            )
        )
    for start in range(0, len(orders), MAX_BATCH):
        orders_record(shop=shop, orders=orders[start : start + MAX_BATCH])
    return f"orders: {len(orders)}"
