"""Pure coupon arithmetic: what a template takes off a cart, or the reason it does not apply (no database).

Amounts are Decimals in the shop's currency. The amount a coupon applies to is the whole order, or the matching
items (quantity x unit price) when the template is scoped to categories or SKUs; the threshold is compared with that
amount. A percentage is rounded half up to the cent, then capped; no discount is ever more than what it applies to."""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class CartItem:
    sku: str
    category: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Cart:
    amount: Decimal
    items: tuple[CartItem, ...] = ()
    shipping: Decimal = Decimal(0)


@dataclass(frozen=True)
class Terms:
    """What coupons.models.CouponTemplate says about the discount (built by Terms.of)."""

    kind: str
    value: Decimal
    min_spend: Decimal | None = None
    max_discount: Decimal | None = None
    scope: str = "order"
    scope_values: tuple[str, ...] = ()
    item_sku: str = ""

    @classmethod
    def of(cls, template) -> "Terms":
        return cls(
            kind=template.kind,
            value=template.value,
            min_spend=template.min_spend,
            max_discount=template.max_discount,
            scope=template.scope,
            scope_values=tuple(template.scope_values),
            item_sku=template.item_sku,
        )


@dataclass(frozen=True)
class Discount:
    amount: Decimal
    applies_to: Decimal  # the amount the coupon was applied to (the order, or the matching items)
    benefit: dict = field(default_factory=dict)  # gift or free shipping: what the shopper gets besides money


@dataclass(frozen=True)
class Refusal:
    reason: str  # below_threshold, outside_scope, items_required, item_missing
    details: dict = field(default_factory=dict)


def _matches(terms: Terms, item: CartItem) -> bool:
    wanted = terms.scope_values
    return (item.category in wanted) if terms.scope == "categories" else (item.sku in wanted)


def _applies_to(terms: Terms, cart: Cart) -> Decimal | Refusal:
    if terms.scope == "order":
        return cart.amount
    if not cart.items:
        return Refusal("items_required")
    matching = sum((item.amount for item in cart.items if _matches(terms, item)), Decimal(0))
    if matching == 0:
        return Refusal("outside_scope")
    return min(matching, cart.amount)


def coupon_discount(terms: Terms, cart: Cart) -> Discount | Refusal:
    """The discount `terms` give on `cart`, or why they give none."""
    base = _applies_to(terms, cart)
    if isinstance(base, Refusal):
        return base
    if terms.min_spend is not None and base < terms.min_spend:
        return Refusal("below_threshold", {"min_spend": str(terms.min_spend), "short_by": str(terms.min_spend - base)})
    if terms.kind in ("amount_off", "no_threshold"):
        amount = terms.value
    elif terms.kind == "percent_off":
        amount = (base * terms.value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    elif terms.kind == "free_shipping":
        amount = min(cart.shipping, terms.value) if terms.value else cart.shipping
        return Discount(amount, base, {"free_shipping": True})
    elif terms.kind == "exchange":
        item = next((i for i in cart.items if i.sku == terms.item_sku), None)
        if item is None:
            return Refusal("item_missing", {"sku": terms.item_sku})
        amount = min(item.unit_price, terms.value) if terms.value else item.unit_price
        return Discount(amount, base, {"exchange_sku": terms.item_sku})
    else:  # gift: an item handed over, nothing off the price
        return Discount(Decimal("0.00"), base, {"gift_sku": terms.item_sku})
    if terms.max_discount is not None:
        amount = min(amount, terms.max_discount)
    return Discount(min(amount, base), base)
