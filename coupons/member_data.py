"""What coupons knows about a member, for the member's timeline and privacy export (members.timeline; registered
for the extension point MEMBER_DATA): coupons received, used, given back or voided, expired, and points mall
exchanges."""

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from members.models import Member
from members.timeline import TimelineEvent
from shops.models import Shop

from .models import Coupon, CouponStatus, Exchange, Fulfilment, Redemption, Reversal, Source


def _money(shop: Shop, amount) -> str:
    return f"{shop.currency} {number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)}"


def _coupons(shop: Shop, member: Member):
    return Coupon.objects.filter(shop=shop, member=member).select_related("template")


def _redemptions(shop: Shop, member: Member):
    return Redemption.objects.filter(shop=shop, member=member).select_related("template", "coupon")


def _exchanges(shop: Shop, member: Member):
    return Exchange.objects.filter(shop=shop, member=member).select_related("template", "gift", "refund_entry")


def _reward(exchange: Exchange) -> str:
    return exchange.template.name if exchange.template_id else exchange.gift.name


def timeline(*, shop: Shop, member: Member, limit: int) -> list[TimelineEvent]:
    """The member's latest coupon events (each kind at most `limit`), newest first."""
    sources = dict(Source.choices)
    events = [
        TimelineEvent(
            at=coupon.issued_at,
            kind="coupon",
            title=_("Coupon received: %(name)s") % {"name": coupon.template.name},
            detail=str(sources.get(coupon.source, coupon.source)),
        )
        for coupon in _coupons(shop, member).order_by("-issued_at", "-id")[:limit]
    ]
    expired = _coupons(shop, member).filter(status=CouponStatus.EXPIRED, status_changed_at__isnull=False)
    events += [
        TimelineEvent(
            at=coupon.status_changed_at,
            kind="coupon",
            title=_("Coupon expired: %(name)s") % {"name": coupon.template.name},
        )
        for coupon in expired.order_by("-status_changed_at", "-id")[:limit]
    ]
    for redemption in _redemptions(shop, member).order_by("-redeemed_at", "-id")[:limit]:
        order = _("Order %(number)s") % {"number": redemption.order_external_id}
        events.append(
            TimelineEvent(
                at=redemption.redeemed_at,
                kind="coupon",
                title=_("Coupon used: %(name)s") % {"name": redemption.template.name},
                detail=_("%(order)s · %(discount)s off")
                % {"order": order, "discount": _money(shop, redemption.discount)},
            )
        )
    reversed_ = _redemptions(shop, member).filter(reversed_at__isnull=False).order_by("-reversed_at", "-id")
    for redemption in reversed_[:limit]:
        title = (
            _("Coupon given back: %(name)s")
            if redemption.reversal == Reversal.RESTORED
            else _("Coupon voided: %(name)s")
        )
        events.append(
            TimelineEvent(
                at=redemption.reversed_at,
                kind="coupon",
                title=title % {"name": redemption.template.name},
                detail=_("Order %(number)s refunded") % {"number": redemption.order_external_id},
            )
        )
    statuses = dict(Fulfilment.choices)
    for exchange in _exchanges(shop, member).order_by("-created_at", "-id")[:limit]:
        events.append(
            TimelineEvent(
                at=exchange.created_at,
                kind="coupon",
                title=_("Points mall: %(reward)s for %(points)s points")
                % {"reward": _reward(exchange), "points": exchange.points},
                detail=str(statuses.get(exchange.status, exchange.status)),
            )
        )
        if exchange.refund_entry is not None:
            events.append(
                TimelineEvent(
                    at=exchange.refund_entry.created_at,
                    kind="coupon",
                    title=_("Points mall exchange cancelled: %(reward)s") % {"reward": _reward(exchange)},
                    detail=_("%(points)s points given back") % {"points": exchange.refund_entry.points},
                )
            )
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:limit]


def export(*, shop: Shop, member: Member) -> dict:
    """Every coupon the member holds or held, every use of one, and every points mall exchange, oldest first."""
    return {
        "coupons": [
            {
                "code": c.code,
                "coupon": c.template.name,
                "source": c.source,
                "status": c.status,
                "issued_at": c.issued_at,
                "valid_from": c.valid_from,
                "valid_until": c.valid_until,
                "status_changed_at": c.status_changed_at,
            }
            for c in _coupons(shop, member).order_by("issued_at", "id")
        ],
        "coupon_redemptions": [
            {
                "code": r.coupon.code,
                "coupon": r.template.name,
                "order_external_id": r.order_external_id,
                "order_amount": r.order_amount,
                "discount": r.discount,
                "redeemed_at": r.redeemed_at,
                "reversed_at": r.reversed_at,
                "reversal": r.reversal,
            }
            for r in _redemptions(shop, member).order_by("redeemed_at", "id")
        ],
        "points_mall_exchanges": [
            {
                "reward": _reward(e),
                "kind": "coupon" if e.template_id else "gift",
                "points": e.points,
                "status": e.status,
                "recipient_name": e.recipient_name,
                "recipient_phone": e.recipient_phone,
                "address": e.address,
                "tracking_number": e.tracking_number,
                "created_at": e.created_at,
                "points_given_back_at": e.refund_entry.created_at if e.refund_entry else None,
            }
            for e in _exchanges(shop, member).order_by("created_at", "id")
        ],
    }
