"""Reads of coupons, each taking the shop: templates with their figures, a member's wallet, grants and tier gifts."""

from django.db.models import Count, DecimalField, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from members.models import Member
from shops.models import Shop

from .models import (
    Coupon,
    CouponStatus,
    CouponTemplate,
    Exchange,
    Gift,
    GrantJob,
    Redemption,
    Source,
    TemplateStatus,
    TierGift,
)


def template_get(*, shop: Shop, pk: int) -> CouponTemplate:
    return CouponTemplate.objects.get(shop=shop, pk=pk)


def template_list(*, shop: Shop, status: str = "") -> QuerySet[CouponTemplate]:
    """Newest first, optionally of one status."""
    templates = CouponTemplate.objects.filter(shop=shop).order_by("-created_at", "-id")
    return templates.filter(status=status) if status else templates


def templates_with_figures(*, shop: Shop, status: str = "") -> QuerySet[CouponTemplate]:
    """Each template with `claimed` (coupons held by members), `redeemed` (standing redemptions) and `gmv` (the
    amount of the orders that used them); `issued` is the template's own counter, redemption rate is
    redeemed / claimed."""
    held = (
        Coupon.objects.filter(shop=OuterRef("shop"), template=OuterRef("pk"), member__isnull=False)
        .order_by()
        .values("template")
        .annotate(n=Count("pk"))
        .values("n")
    )
    used = (
        Redemption.objects.filter(shop=OuterRef("shop"), template=OuterRef("pk"), reversed_at__isnull=True)
        .order_by()
        .values("template")
        .annotate(n=Count("pk"), amount=Sum("order_amount"))
    )
    money = DecimalField(max_digits=14, decimal_places=2)
    return template_list(shop=shop, status=status).annotate(
        claimed=Coalesce(Subquery(held, output_field=IntegerField()), 0),
        redeemed=Coalesce(Subquery(used.values("n"), output_field=IntegerField()), 0),
        gmv=Coalesce(Subquery(used.values("amount"), output_field=money), Value(0), output_field=money),
    )


def templates_claimable(*, shop: Shop) -> QuerySet[CouponTemplate]:
    """Active templates, for the grant forms and the points mall (audience and windows checked on issue)."""
    return template_list(shop=shop, status=TemplateStatus.ACTIVE)


def templates_for_shoppers(*, shop: Shop) -> QuerySet[CouponTemplate]:
    """The templates members may claim themselves in the member centre: active, marked for shoppers, and not sold
    for points (those are in the mall). Welcome, birthday or referral coupons stay out unless the shop says so."""
    return templates_claimable(shop=shop).filter(shopper_claimable=True, points_price__isnull=True)


def member_coupons(*, shop: Shop, member: Member, status: str = "") -> QuerySet[Coupon]:
    """The member's coupons, newest first, optionally of one status (CouponStatus)."""
    coupons = Coupon.objects.filter(shop=shop, member=member).select_related("template").order_by("-issued_at", "-id")
    return coupons.filter(status=status) if status else coupons


def coupon_redemptions(*, shop: Shop, coupon: Coupon) -> QuerySet[Redemption]:
    return Redemption.objects.filter(shop=shop, coupon=coupon).order_by("-redeemed_at", "-id")


def grant_list(*, shop: Shop) -> QuerySet[GrantJob]:
    return GrantJob.objects.filter(shop=shop).select_related("template", "segment").order_by("-created_at", "-id")


def grant_get(*, shop: Shop, pk: int) -> GrantJob:
    return GrantJob.objects.select_related("template", "segment").get(shop=shop, pk=pk)


def tier_gift_list(*, shop: Shop) -> QuerySet[TierGift]:
    return TierGift.objects.filter(shop=shop).select_related("tier", "template").order_by("tier__rank", "occasion")


def gift_list(*, shop: Shop, active_only: bool = False) -> QuerySet[Gift]:
    gifts = Gift.objects.filter(shop=shop).order_by("points_price", "id")
    return gifts.filter(active=True) if active_only else gifts


def gift_get(*, shop: Shop, pk: int) -> Gift:
    return Gift.objects.get(shop=shop, pk=pk)


def mall_templates(*, shop: Shop) -> QuerySet[CouponTemplate]:
    """Coupons on offer in the points mall: active templates with a points price."""
    return templates_claimable(shop=shop).filter(points_price__isnull=False).order_by("points_price", "id")


def exchange_get(*, shop: Shop, pk: int) -> Exchange:
    return Exchange.objects.select_related("member", "template", "gift").get(shop=shop, pk=pk)


def coupon_counts(*, shop: Shop, member: Member) -> dict[str, int]:
    """How many coupons of each status the member holds."""
    rows = Coupon.objects.filter(shop=shop, member=member).order_by().values("status").annotate(n=Count("pk"))
    counts = {status: 0 for status in CouponStatus.values}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def template_codes(*, shop: Shop, template: CouponTemplate, batch: str = "") -> QuerySet[Coupon]:
    """Codes for handing out: the template's bearer codes no member holds yet, oldest first; or, given `batch` (the
    id codes_generate and codes_import return), every code of that batch whoever holds it now."""
    coupons = Coupon.objects.filter(shop=shop, template=template).order_by("pk")
    if batch:
        keys = Q(idempotency_key__startswith=f"{Source.GENERATED}#{batch}#")
        return coupons.filter(keys | Q(idempotency_key__startswith=f"{Source.IMPORTED}#{batch}#"))
    return coupons.filter(member__isnull=True, status=CouponStatus.AVAILABLE)
