"""How a coupon reads on the dashboard: amounts in the shop's currency, the offer in words (满100减20, 8折 最高减50)
and the coupon card that the editor's preview (static/coupons/preview.js) draws from the same phrases."""

from decimal import Decimal

from django.template.defaultfilters import floatformat
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from shops.models import Shop
from shops.time import local_date
from tiers.selectors import CURRENCY_SYMBOLS

from ..models import CouponKind, CouponTemplate, Scope, TemplateStatus, UseChannel


def _number(value: Decimal) -> str:
    """20, 8.5, 12.75: no trailing zeros."""
    return format(Decimal(value).normalize(), "f")


def money(shop: Shop, amount: Decimal) -> str:
    """¥20, ¥20.50: the shop's currency symbol, cents only when there are some (as coupons are written)."""
    return f"{CURRENCY_SYMBOLS.get(shop.currency, f'{shop.currency} ')}{floatformat(amount, '-2')}"


def _percent_format() -> str:
    """How a percent-off coupon reads: %(off)s is the percentage taken off (20), %(rate)s the price rate (8)."""
    # Translators: answer "rate" to show percent-off coupons as the price rate paid, as Chinese shops do (8折);
    # keep "off" to show the percentage taken off (20% off).
    if pgettext("percent coupon style", "off") == "rate":
        # Translators: the price rate, e.g. 8 for 8折 (20% off).
        return pgettext("price rate", "%(rate)s tenths of the price")
    return _("%(off)s%% off")


def _percent_values(value: Decimal) -> dict:
    return {"off": _number(value), "rate": _number((100 - Decimal(value)) / 10)}


def card_texts(shop: Shop) -> dict:
    """The phrases of the coupon card in the request's language, as format strings with %(name)s."""
    return {
        "currency": CURRENCY_SYMBOLS.get(shop.currency, f"{shop.currency} "),
        "percent": _percent_format(),
        "free_shipping": _("Free shipping"),
        "gift": pgettext("coupon card", "Gift"),
        "exchange": pgettext("coupon card", "Exchange"),
        "min_spend": _("Orders over %(min)s"),
        "no_min": _("No minimum spend"),
        "max_discount": _("At most %(max)s off"),
        "shipping_cap": _("Shipping up to %(max)s"),
        # One and many: the plural forms of English and Chinese (preview.js picks one by the number of days).
        "valid_day": ngettext(
            "Valid for %(days)s day after it is received", "Valid for %(days)s days after it is received", 1
        ),
        "valid_days": ngettext(
            "Valid for %(days)s day after it is received", "Valid for %(days)s days after it is received", 2
        ),
        "valid_range": _("Valid %(start)s – %(end)s"),
        "valid_until": _("Valid until %(end)s"),
        "scope_order": _("Whole order"),
        "scope_categories": _("Categories: %(names)s"),
        "scope_skus": _("SKUs: %(names)s"),
        "separator": _(", "),
        "name": _("Coupon name"),
        "channels": {channel: str(channel.label) for channel in (UseChannel.ONLINE, UseChannel.OFFLINE)},
    }


def _local_day(shop: Shop, moment) -> str:
    return local_date(shop, moment).isoformat()


def coupon_card(*, shop: Shop, template: CouponTemplate, texts: dict | None = None) -> dict:
    """What the card shows for `template` (saved or not): big (¥20, 8折, 包邮), condition (满100可用), name,
    validity and scope lines. preview.js computes the same from the editor's fields."""
    texts = texts or card_texts(shop)
    kind, value = template.kind, template.value or Decimal(0)
    if kind in (CouponKind.AMOUNT_OFF, CouponKind.NO_THRESHOLD):
        big = money(shop, value)
    elif kind == CouponKind.PERCENT_OFF:
        big = texts["percent"] % _percent_values(value)
    else:
        big = texts[kind]
    minimum = template.min_spend
    condition = [texts["min_spend"] % {"min": money(shop, minimum)} if minimum else texts["no_min"]]
    if kind == CouponKind.PERCENT_OFF and template.max_discount:
        condition.append(texts["max_discount"] % {"max": money(shop, template.max_discount)})
    if kind == CouponKind.FREE_SHIPPING and value:
        condition.append(texts["shipping_cap"] % {"max": money(shop, value)})
    if kind in (CouponKind.GIFT, CouponKind.EXCHANGE) and (template.item_name or template.item_sku):
        condition.append(template.item_name or template.item_sku)
    if template.valid_days:
        validity = texts["valid_day" if template.valid_days == 1 else "valid_days"] % {"days": template.valid_days}
    elif template.valid_until and template.valid_from:
        ends = {"start": _local_day(shop, template.valid_from), "end": _local_day(shop, template.valid_until)}
        validity = texts["valid_range"] % ends
    elif template.valid_until:
        validity = texts["valid_until"] % {"end": _local_day(shop, template.valid_until)}
    else:
        validity = ""
    if template.scope == Scope.ORDER:
        scope = [texts["scope_order"]]
    else:
        scope = [texts[f"scope_{template.scope}"] % {"names": texts["separator"].join(template.scope_values)}]
    if template.use_channel in texts["channels"]:
        scope.append(texts["channels"][template.use_channel])
    return {
        "big": big,
        "condition": " · ".join(condition),
        "name": template.name or texts["name"],
        "validity": validity,
        "scope": " · ".join(scope),
        "kind": kind,
        "inactive": template.status != TemplateStatus.ACTIVE,
    }


def value_in_words(*, shop: Shop, template: CouponTemplate) -> str:
    """满100减20, 8折 最高减50, 无门槛减10, 包邮, 赠品 (in English: ¥20 off orders over ¥100, ...)."""
    kind, value = template.kind, template.value or Decimal(0)
    if kind == CouponKind.AMOUNT_OFF:
        amounts = {"value": money(shop, value), "min": money(shop, template.min_spend or 0)}
        return _("%(value)s off orders over %(min)s") % amounts
    if kind == CouponKind.NO_THRESHOLD:
        return _("%(value)s off, no minimum spend") % {"value": money(shop, value)}
    if kind == CouponKind.PERCENT_OFF:
        offer = _percent_format() % _percent_values(value)
        if template.max_discount:
            cap = money(shop, template.max_discount)
            offer = _("%(percent)s, at most %(max)s off") % {"percent": offer, "max": cap}
    elif kind == CouponKind.FREE_SHIPPING:
        offer = _("Free shipping up to %(max)s") % {"max": money(shop, value)} if value else _("Free shipping")
    elif kind == CouponKind.GIFT:
        offer = _("Gift: %(item)s") % {"item": template.item_name or template.item_sku}
    else:
        offer = _("Exchange voucher: %(item)s") % {"item": template.item_name or template.item_sku}
    if template.min_spend:
        offer = _("%(offer)s, on orders over %(min)s") % {"offer": offer, "min": money(shop, template.min_spend)}
    return offer


def redemption_rate(template) -> float | None:
    """Redeemed / claimed, as a percentage (None when nobody claimed one)."""
    return 100 * template.redeemed / template.claimed if template.claimed else None
