"""The default tier ladder of a new shop (SPEC 3), which the merchant then edits. Registered for the extension
point SHOP_DEFAULTS (tiers.apps), so that shops.services.shop_create sets it up without importing this app."""

from decimal import Decimal

from shops.models import Shop

DEFAULT_LADDER = [
    {"rank": 0, "name": "普通会员"},
    {"rank": 1, "name": "高级会员", "min_spend": Decimal(500)},
    {"rank": 2, "name": "VIP会员", "min_spend": Decimal(2000), "min_orders": 5},
    {"rank": 3, "name": "至尊VIP", "min_spend": Decimal(5000)},
]


def create_defaults(*, shop: Shop, tier_model=None) -> None:
    """Create the default ladder (all windows: the last 12 months; all thresholds combined with AND). `tier_model`
    lets a data migration pass its historical model."""
    from .models import Tier

    model = tier_model or Tier
    model.objects.bulk_create(model(shop_id=shop.pk, **tier) for tier in DEFAULT_LADDER)
