"""How the shopper pages say things: the shop's colours, tier benefits in words, coupon cards, the progress bar.
Pure functions over objects already loaded: no database access here."""

import datetime
import re
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from coupons.codes import code_display
from coupons.models import Coupon, CouponStatus, CouponTemplate
from coupons.views.words import card_texts, coupon_card, money
from shops.models import Shop
from tiers.models import Combine, Tier, Window

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_COLOUR = "#C8102E"


def _number(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def _luminance(colour: str) -> float:
    def linear(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def brand(shop: Shop) -> dict:
    """The shop's colour and the text colour that reads on it (white or near black, whichever contrasts more)."""
    colour = shop.colour if _COLOUR.fullmatch(shop.colour or "") else DEFAULT_COLOUR
    light = _luminance(colour)
    on_white = 1.05 / (light + 0.05)
    on_dark = (light + 0.05) / (_luminance("#1a1a1a") + 0.05)
    return {"colour": colour, "on_colour": "#fff" if on_white >= on_dark else "#1a1a1a"}


def tier_benefits(shop: Shop, tier: Tier) -> list[str]:
    """A tier's benefits as short phrases, for the landing page and the member card."""
    phrases = []
    if tier.discount_rate < 1:
        # Translators: %(tenths)s is the price paid in tenths (9.5 for 9.5折), %(off)s the percentage taken off (5).
        phrases.append(
            _("%(off)s%% off member prices")
            % {"off": _number((1 - tier.discount_rate) * 100), "tenths": _number(tier.discount_rate * 10)}
        )
    if tier.points_multiplier != 1:
        phrases.append(_("%(multiplier)s× points") % {"multiplier": _number(tier.points_multiplier)})
    if tier.free_shipping:
        phrases.append(_("Free shipping"))
    if tier.priority_shipping:
        phrases.append(_("Priority shipping"))
    if tier.dedicated_service:
        phrases.append(_("Dedicated service"))
    if tier.description:
        phrases.append(tier.description)
    return phrases


def tier_requirement(shop: Shop, tier: Tier) -> str:
    """How a tier is reached, in words ("" for the tier every member holds on joining or one given by hand)."""
    parts = []
    if tier.min_spend is not None:
        parts.append(_("%(amount)s spent") % {"amount": money(shop, tier.min_spend)})
    if tier.min_orders is not None:
        parts.append(ngettext("%(count)d order", "%(count)d orders", tier.min_orders) % {"count": tier.min_orders})
    if tier.min_growth is not None:
        parts.append(_("%(value)d growth value") % {"value": tier.min_growth})
    if not parts:
        return ""
    joined = (_(" and ") if tier.combine == Combine.ALL else _(" or ")).join(parts)
    windows = {
        Window.LIFETIME: _("from %(what)s in all"),
        Window.ROLLING_12M: _("from %(what)s in 12 months"),
        Window.CALENDAR_YEAR: _("from %(what)s in a calendar year"),
    }
    return windows.get(tier.window, windows[Window.LIFETIME]) % {"what": joined}


def ladder(shop: Shop, tiers: list[Tier]) -> list[dict]:
    return [
        {"name": t.name, "benefits": tier_benefits(shop, t), "requirement": tier_requirement(shop, t)} for t in tiers
    ]


def template_cards(shop: Shop, templates: list[CouponTemplate]) -> list[dict]:
    texts = card_texts(shop)
    return [coupon_card(shop=shop, template=template, texts=texts) for template in templates]


def coupon_cards(shop: Shop, coupons: list[Coupon], *, now: datetime.datetime) -> list[dict]:
    """Cards of a member's coupons: the template's offer with the coupon's own dates, status and code."""
    texts = card_texts(shop)
    cards = []
    for coupon in coupons:
        card = coupon_card(shop=shop, template=coupon.template, texts=texts)
        until = coupon.valid_until and timezone.localtime(coupon.valid_until).strftime("%Y-%m-%d")
        if coupon.valid_from and coupon.valid_from > now:
            card["validity"] = texts["valid_range"] % {
                "start": timezone.localtime(coupon.valid_from).strftime("%Y-%m-%d"),
                "end": until or "…",
            }
        elif until:
            card["validity"] = texts["valid_until"] % {"end": until}
        usable = coupon.status == CouponStatus.AVAILABLE and (coupon.valid_until is None or coupon.valid_until > now)
        card.update(
            usable=usable,
            inactive=not usable,
            status=coupon.get_status_display() if coupon.status != CouponStatus.AVAILABLE or usable else _("Expired"),
            code=code_display(coupon.code),
            pk=coupon.pk,
        )
        cards.append(card)
    return cards


def progress_percent(progress: dict | None) -> int | None:
    """How far along the way to the next tier, 0-100: the least advanced threshold when all are needed, the most
    advanced when any one is enough. None without a next tier."""
    if not progress or not progress["missing"]:
        return None
    figures, shares = progress["figures"], []
    for name, missing in progress["missing"].items():
        have = Decimal(figures[name])
        total = have + Decimal(missing)
        shares.append(Decimal(1) if total <= 0 else min(have / total, Decimal(1)))
    share = min(shares) if progress["combine"] == Combine.ALL else max(shares)
    return int(share * 100)
