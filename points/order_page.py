"""The "Points" section of the order page (extension point ORDER_PAGE_SECTION: orders renders it without importing
points). It explains in words how the order's points were computed, from the lines stored with its earn entry or
its pending award (points.rules.Award.as_details), and what became of them: pending until when, cut or taken back
by refunds and cancellation."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from orders.models import Order
from shops.models import Shop

from .models import PendingAward, PendingState, PointsEntry
from .order_effects import earn_key

TEMPLATE = "points/order_section.html"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Line:
    text: str
    rule: str  # base, tier, bonus, rounding, cap: a CSS hook


def _decimal(value) -> Decimal | None:
    try:
        return None if value in (None, "") else Decimal(str(value))
    except InvalidOperation:
        return None


def _num(value: Decimal) -> str:
    """A points figure as short as it is exact: 268.9000 -> 268.9, 100.00 -> 100."""
    return format(value.normalize(), "f")


def _money(shop: Shop, amount: Decimal) -> str:
    return f"{shop.currency} {amount.quantize(CENT):,}"


def _bonus_text(shop: Shop, line: dict, points: Decimal) -> str:
    values = {
        "name": line.get("name") or "",
        "multiplier": _num(_decimal(line.get("multiplier")) or Decimal(1)),
        "amount": _money(shop, _decimal(line.get("basis")) or Decimal(0)),
        "extra": line.get("extra") or 0,
        "points": _num(points),
    }
    multiplied = (_decimal(line.get("multiplier")) or Decimal(1)) != 1
    if multiplied and values["extra"]:
        return _("Bonus %(name)s ×%(multiplier)s on %(amount)s and %(extra)s extra points: +%(points)s") % values
    if multiplied:
        return _("Bonus %(name)s ×%(multiplier)s on %(amount)s: +%(points)s") % values
    return _("Bonus %(name)s, %(extra)s extra points: +%(points)s") % values


def explanation(*, shop: Shop, details: dict, awarded: int) -> list[Line]:
    """The stored computation lines in words, with the one rounding between the exact sum and `awarded` (the
    points the order was given) shown before the cap."""
    lines, exact, cap = [], Decimal(0), None
    for line in details.get("lines", []):
        points = _decimal(line.get("points")) or Decimal(0)
        rule = line.get("rule")
        if rule == "cap":
            cap = (line, points)
            continue
        exact += points
        if rule == "base":
            text = _("Base: %(amount)s × %(rate)s = %(points)s") % {
                "amount": _money(shop, _decimal(line.get("basis")) or Decimal(0)),
                "rate": _num(_decimal(line.get("multiplier")) or Decimal(1)),
                "points": _num(points),
            }
        elif rule == "tier":
            text = _("Tier %(name)s ×%(multiplier)s: +%(points)s") % {
                "name": line.get("name") or "",
                "multiplier": _num(_decimal(line.get("multiplier")) or Decimal(1)),
                "points": _num(points),
            }
        elif rule == "bonus":
            text = _bonus_text(shop, line, points)
        else:
            continue  # a kind of line this page does not know yet: the total below still holds
        lines.append(Line(text, rule))
    rounded = awarded - int(cap[1]) if cap else awarded
    if lines and exact != rounded:
        lines.append(
            Line(_("Rounded: %(exact)s → %(rounded)s") % {"exact": _num(exact), "rounded": rounded}, "rounding")
        )
    if cap:
        limit = _decimal(cap[0].get("basis")) or Decimal(awarded)
        lines.append(Line(_("Cap %(cap)s: −%(points)s") % {"cap": _num(limit), "points": _num(-cap[1])}, "cap"))
    return lines


def section(*, shop: Shop, order: Order) -> dict | None:
    """The section for an order with a member (None otherwise: a non-member earns nothing)."""
    if not order.member_id:
        return None
    entry = PointsEntry.objects.filter(shop=shop, idempotency_key=earn_key(order.external_id)).first()
    award = PendingAward.objects.filter(shop=shop, order_external_id=order.external_id).first()
    details = (entry.details if entry else {}) or (award.details if award else {}) or {}
    reversals = (
        list(PointsEntry.objects.filter(shop=shop, reverses=entry).order_by("created_at", "id")) if entry else []
    )
    for reversal in reversals:
        reversal.taken = -reversal.points
        reversal.spent = (reversal.details or {}).get("asked", 0) - (reversal.details or {}).get("taken", 0)
    awarded = order.points_earned
    if entry:
        kept = entry.points + sum(r.points for r in reversals)
    else:
        kept = award.points if award and award.state == PendingState.PENDING else 0
    return {
        "title": _("Points"),
        "template": TEMPLATE,
        "context": {
            "lines": explanation(shop=shop, details=details, awarded=awarded),
            "awarded": awarded,
            "total": ngettext("Total: %(points)s point", "Total: %(points)s points", awarded) % {"points": awarded},
            "entry": entry,
            "award": award,
            "pending": award is not None and award.state == PendingState.PENDING,
            "cancelled": award is not None and award.state == PendingState.CANCELLED,
            "cut": max(awarded - award.points, 0) if award else 0,
            "reversals": reversals,
            "kept": kept,
            "member_id": order.member_id,
        },
    }
