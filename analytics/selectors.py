"""Figures of a period read from the rollups (SPEC 14), never from the orders: each is a sum over at most a few
hundred day rows, or (active members, repeat purchase) one GROUP BY over the members' days of the period, which
the rollup pass stores for the standard periods (PeriodBuyers).

A period is a range of shop-local days, both included. Money is Decimal, rates are floats between 0 and 1 (None
when there is nothing to divide by)."""

import datetime
import time
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from points.models import EntryKind, PointsProgram
from shops.cache import optional_cache
from shops.models import Shop

from .models import CouponDay, JoinDay, MemberDay, PeriodBuyers, PointsDay, ReferralDay, SalesDay

CENT = Decimal("0.01")
ISSUED_KINDS = (EntryKind.EARN, EntryKind.ADJUST)
SUMMARY_TTL = 24 * 3600  # a day at most, whatever happens to the version key


def _rate(numerator, denominator) -> float | None:
    return round(float(numerator) / float(denominator), 4) if denominator else None


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def previous_period(first: datetime.date, last: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The period of the same length just before."""
    length = (last - first).days + 1
    return first - datetime.timedelta(days=length), first - datetime.timedelta(days=1)


def points_value(*, shop: Shop) -> Decimal | None:
    """The money one point is worth at the shop's points-as-cash rate (None: the shop has not set one)."""
    per_unit = PointsProgram.objects.filter(shop=shop).values_list("points_per_cash_unit", flat=True).first()
    return (Decimal(1) / Decimal(per_unit)) if per_unit else None


def points_outstanding(*, shop: Shop, last: datetime.date) -> int:
    """Points held by members at the end of `last`: every ledger entry up to that day."""
    totals = PointsDay.objects.filter(shop=shop, day__lte=last).aggregate(
        i=Coalesce(Sum("points_in"), 0), o=Coalesce(Sum("points_out"), 0)
    )
    return totals["i"] + totals["o"]


def period_buyers_count(
    *, shop: Shop, first: datetime.date, last: datetime.date, using: str | None = None
) -> dict[str, int]:
    """{"active", "repeat"}: members with a counted order in first..last, and those with at least two, counted live
    from the members' days: one GROUP BY by member over every member-day of the period (about a million for a busy
    shop's month: 0.8 s, docs/benchmarks.md issue 20). The rollup pass stores this for the standard periods, reading
    the primary (`using`); pages read where the router sends them."""
    return (
        MemberDay.objects.using(using)
        .filter(shop=shop, day__gte=first, day__lte=last)
        .order_by()
        .values("member_id")
        .annotate(n=Sum("orders"))
        .aggregate(active=Count("member_id"), repeat=Count("member_id", filter=Q(n__gte=2)))
    )


def period_buyers(*, shop: Shop, first: datetime.date, last: datetime.date) -> dict[str, int]:
    """The period's buyer figures: read from PeriodBuyers when the rollup pass counted them for this very period
    (the last 30 days and the 30 before, what the overview, the pages and the summary show by default), else
    counted live (period_buyers_count). Both give the same numbers: a stored row is deleted as soon as a day inside
    its period is rolled up again."""
    stored = PeriodBuyers.objects.filter(shop=shop, first=first, last=last).values("active", "repeat").first()
    return stored if stored is not None else period_buyers_count(shop=shop, first=first, last=last)


def period_figures(*, shop: Shop, first: datetime.date, last: datetime.date) -> dict:
    """The headline figures of the summary API (SPEC 10) for first..last: sums of day rows, and the two buyer
    figures (active members, repeat purchase rate) from period_buyers: precomputed for the standard periods, the
    last 30 days and the 30 before; any other period counts them live over its member-days."""
    in_range = {"shop": shop, "day__gte": first, "day__lte": last}
    sales = SalesDay.objects.filter(**in_range).aggregate(
        orders=Coalesce(Sum("orders"), 0),
        sales=Sum("sales"),
        member_orders=Coalesce(Sum("member_orders"), 0),
        member_sales=Sum("member_sales"),
        coupon_orders=Coalesce(Sum("coupon_orders"), 0),
        coupon_sales=Sum("coupon_sales"),
    )
    total_sales, member_sales = _money(sales["sales"]), _money(sales["member_sales"])
    non_member_orders = sales["orders"] - sales["member_orders"]
    non_member_sales = total_sales - member_sales
    buyers = period_buyers(shop=shop, first=first, last=last)
    joins = JoinDay.objects.filter(shop=shop)
    points = {
        kind: row
        for kind, *row in PointsDay.objects.filter(**in_range)
        .order_by()
        .values("kind")
        .annotate(i=Sum("points_in"), o=Sum("points_out"))
        .values_list("kind", "i", "o")
    }
    outstanding = points_outstanding(shop=shop, last=last)
    value = points_value(shop=shop)
    coupons = CouponDay.objects.filter(**in_range).aggregate(
        issued=Coalesce(Sum("issued"), 0), redeemed=Coalesce(Sum("redeemed"), 0), discount=Sum("discount")
    )
    referrals = ReferralDay.objects.filter(**in_range).aggregate(
        joins=Coalesce(Sum("joins"), 0), rewarded=Coalesce(Sum("rewarded"), 0)
    )
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "members_total": joins.filter(day__lte=last).aggregate(n=Coalesce(Sum("joins"), 0))["n"],
        "members_new": joins.filter(day__gte=first, day__lte=last).aggregate(n=Coalesce(Sum("joins"), 0))["n"],
        "members_active": buyers["active"],
        "orders": sales["orders"],
        "sales": total_sales,
        "member_orders": sales["member_orders"],
        "member_sales": member_sales,
        "non_member_orders": non_member_orders,
        "non_member_sales": non_member_sales,
        "member_share_of_sales": _rate(member_sales, total_sales),
        "aov_member": _money(member_sales / sales["member_orders"]) if sales["member_orders"] else None,
        "aov_non_member": _money(non_member_sales / non_member_orders) if non_member_orders else None,
        "repeat_purchase_rate": _rate(buyers["repeat"], buyers["active"]),
        "points_issued": sum(points.get(kind, (0, 0))[0] or 0 for kind in ISSUED_KINDS),
        "points_redeemed": -(points.get(EntryKind.REDEEM, (0, 0))[1] or 0),
        "points_expired": -(points.get(EntryKind.EXPIRE, (0, 0))[1] or 0),
        "points_outstanding": outstanding,
        "points_liability": _money(outstanding * value) if value is not None else None,
        "coupons_issued": coupons["issued"],
        "coupons_redeemed": coupons["redeemed"],
        "coupon_discount": _money(coupons["discount"]),
        "coupon_orders": sales["coupon_orders"],
        "coupon_sales": _money(sales["coupon_sales"]),
        "referral_joins": referrals["joins"],
        "referral_rewards": referrals["rewarded"],
    }


def _version_key(shop: Shop) -> str:
    return f"analytics:{shop.pk}:rollups"


def rollups_changed(*, shop: Shop) -> None:
    """Called by analytics.rollups when a shop's rollups are rewritten: the figures cached from them are stale."""
    optional_cache.set(_version_key(shop), time.time_ns(), None)


def summary(*, shop: Shop, first: datetime.date, last: datetime.date) -> dict:
    """The period's figures with the same figures for the period of the same length before, under `previous`.

    Kept in the cache until the shop's rollups next change (a pass, a backfill): they change once a day. The first
    request after a change reads day rows and, for the standard periods, the buyers the pass counted
    (PeriodBuyers); any other period counts its buyers over its member-days (about a million for a busy shop's
    month: 0.8 s each period at 1M members, docs/benchmarks.md issue 20), which the cache spares the requests
    after it."""
    version = optional_cache.get(_version_key(shop)) or 0
    key = f"analytics:{shop.pk}:summary:{version}:{first.isoformat()}:{last.isoformat()}"
    if (cached := optional_cache.get(key)) is not None:
        return cached
    before = previous_period(first, last)
    figures = {
        **period_figures(shop=shop, first=first, last=last),
        "previous": period_figures(shop=shop, first=before[0], last=before[1]),
    }
    optional_cache.set(key, figures, SUMMARY_TTL)
    return figures
