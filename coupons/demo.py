"""Demo coupons for `manage.py seed_demo`: a few templates of each kind, claims by a sample of members and some
redemptions, all through the services (stock, limits and figures are what production would hold)."""

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from members.selectors import member_search
from shops.models import Shop
from shops.services import SYSTEM
from tiers.selectors import tiers_of_shop

from .issuance import coupons_issue_bulk
from .models import Occasion, Source, TierGift
from .redemption import coupon_redeem
from .rules import Cart
from .selectors import member_coupons, template_list
from .services import template_create

TEMPLATES = [
    {
        "name": "满100减20",
        "kind": "amount_off",
        "value": Decimal("20"),
        "min_spend": Decimal("100"),
        "valid_days": 30,
        "stock": 5000,
        "description": "全场通用，每人限领1张",
        "shopper_claimable": True,
    },
    {
        "name": "咖啡8折券",
        "kind": "percent_off",
        "value": Decimal("20"),
        "max_discount": Decimal("30"),
        "scope": "categories",
        "scope_values": ["咖啡"],
        "valid_days": 14,
        "per_member_limit": 2,
        "shopper_claimable": True,
    },
    {
        "name": "新人无门槛10元",
        "kind": "no_threshold",
        "value": Decimal("10"),
        "audience": "new_members",
        "new_member_days": 30,
        "valid_days": 7,
    },
    {"name": "包邮券", "kind": "free_shipping", "value": Decimal("0"), "valid_days": 30, "points_price": 300},
    {
        "name": "生日蛋糕兑换券",
        "kind": "exchange",
        "value": Decimal("0"),
        "item_sku": "FD-CAKE",
        "item_name": "生日小蛋糕",
        "valid_days": 30,
    },
]


def seed_coupons(*, shop: Shop, rng: random.Random, members: int) -> str:
    if template_list(shop=shop).exists():
        return "coupons: kept"
    templates = [template_create(shop=shop, actor=SYSTEM, data=data) for data in TEMPLATES]
    tiers = list(tiers_of_shop(shop=shop))
    if tiers:
        TierGift.objects.create(shop=shop, tier=tiers[-1], occasion=Occasion.BIRTHDAY, template=templates[4])
    member_ids = sorted(member_search(shop=shop).values_list("pk", flat=True))
    sample = sorted(rng.sample(member_ids, min(len(member_ids), max(members // 4, 1))))
    now = timezone.now()
    for template in templates[:2]:
        coupons_issue_bulk(
            shop=shop,
            template=template,
            member_ids=sample,
            key_prefix=f"demo#{template.pk}#",
            source=Source.CLAIM,
            now=now - timedelta(days=3),
        )
    redeemed = 0
    for member_id in sample[: len(sample) // 3]:
        member = member_search(shop=shop).get(pk=member_id)
        coupon = member_coupons(shop=shop, member=member).filter(template=templates[0]).first()
        coupon_redeem(
            shop=shop,
            code=coupon.code,
            member=member,
            order_external_id=f"DEMO-C{coupon.pk}",
            cart=Cart(amount=Decimal(rng.choice(["128.00", "199.00", "256.00"]))),
        )
        redeemed += 1
    return f"coupons: {len(templates)} templates, {2 * len(sample)} issued, {redeemed} redeemed"
