"""A campaign's results (SPEC 12): the funnel from the audience to conversions, and the uplift against the holdout.

Uplift compares the members the campaign meant to message with the held-out members, who were chosen among the
same eligible members by their fixed random bucket: "treated" are the rows not suppressed before the holdout
(queued, sent, delivered, failed, and those capped or dropped in quiet hours: intention to treat, so the two groups
stay alike), "holdout" the rows held out. Over the attribution window (from the start, `attribution_days` long),
for each group: the members who ordered (conversion), their orders and their sales (the amount less refunds,
cancelled and fully refunded orders left out, as analytics counts them). The differences carry 95% intervals
(campaigns.stats); an interval that contains 0 is "not significant". The cost is the campaign coupons redeemed and
their discount.

Aggregates are one query per group over the campaign's rows joined to the members' orders; the report is frozen on
the campaign once the window has passed (nothing can change it any more)."""

import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.utils import timezone

from coupons.models import Coupon, Redemption
from orders.models import COUNTED_STATUSES, Order
from shops.models import Shop

from .models import Campaign, CampaignStatus, Message, MessageStatus, Reason
from .selectors import campaign_counts
from .snapshot import coupon_key_prefix
from .stats import mean_diff_summary, proportion_diff

PRE_HOLDOUT = (Reason.ERASED, Reason.FROZEN, Reason.NO_ADDRESS, Reason.UNSUBSCRIBED, Reason.NO_CONSENT)


def _window(campaign: Campaign) -> tuple[datetime.datetime, datetime.datetime] | None:
    if campaign.started_at is None:
        return None
    return campaign.started_at, campaign.started_at + datetime.timedelta(days=campaign.attribution_days)


def _group(shop: Shop, campaign: Campaign, holdout: bool, window) -> dict:
    rows = Message.objects.filter(shop=shop, campaign=campaign)
    if holdout:
        rows = rows.filter(status=MessageStatus.SUPPRESSED, reason=Reason.HOLDOUT)
    else:
        rows = rows.exclude(status=MessageStatus.SUPPRESSED, reason__in=(*PRE_HOLDOUT, Reason.HOLDOUT))
    members = rows.values("member_id")
    n = rows.count()
    net = ExpressionWrapper(
        F("amount") - F("refunded_amount"), output_field=DecimalField(max_digits=14, decimal_places=2)
    )
    per_member = (
        Order.objects.filter(
            shop=shop, member_id__in=members, status__in=COUNTED_STATUSES, paid_at__gte=window[0], paid_at__lt=window[1]
        )
        .order_by()
        .values("member_id")
        .annotate(orders=Count("pk"), sales=Sum(net))
        .values_list("orders", "sales")
    )
    inner, params = per_member.query.sql_with_params()
    with connection.cursor() as cursor:
        # tenant-ok: the inner SELECT is the shop's orders, grouped by member; one row of totals comes back
        cursor.execute(
            "SELECT count(*), coalesce(sum(s.orders), 0), coalesce(sum(s.sales), 0), "  # noqa: S608
            f"coalesce(sum(s.sales * s.sales), 0) FROM ({inner}) AS s",
            params,
        )
        converted, orders, total, squares = cursor.fetchone()
    return group_figures(n, converted, orders, total, squares)


def group_figures(n: int, converted, orders, total, squares) -> dict:
    """A group's figures from its SQL totals (members, those who ordered, orders, sales and the sum of squared
    sales per member), with `_mean` and `_variance` for uplift_estimates. Shared by automations.reports."""
    # PostgreSQL sums integers as numeric: back to plain numbers for the JSON the report is frozen in.
    converted, orders, total, squares = int(converted), int(orders), Decimal(str(total)), float(squares)
    mean = float(total) / n if n else 0.0
    variance = (squares - n * mean * mean) / (n - 1) if n > 1 else 0.0
    return {
        "members": n,
        "converted": converted,
        "conversion_rate": converted / n if n else None,
        "orders": orders,
        "sales": str(total.quantize(Decimal("0.01"))),
        "revenue_per_member": round(mean, 2) if n else None,
        "_mean": mean,
        "_variance": max(variance, 0.0),
    }


def _cost(shop: Shop, campaign: Campaign) -> dict:
    coupons = Coupon.objects.filter(shop=shop, idempotency_key__startswith=coupon_key_prefix(campaign))
    used = Redemption.objects.filter(shop=shop, coupon__in=coupons, reversed_at__isnull=True).aggregate(
        n=Count("pk"), discount=Sum("discount")
    )
    return {"coupons_redeemed": used["n"], "discount": str(used["discount"] or Decimal("0.00"))}


def _estimate(e) -> dict | None:
    if e is None:
        return None
    return {"difference": e.diff, "low": e.low, "high": e.high, "significant": e.significant}


def uplift_estimates(treated: dict, held: dict) -> dict:
    """The differences of two groups (each as `_group` makes it, with `_mean` and `_variance`, which are taken
    out): {"conversion", "revenue_per_member"}, each {"difference", "low", "high", "significant"} or None. Shared by
    the automations' reports (automations.reports)."""
    conversion = proportion_diff(
        treated_hits=treated["converted"], treated_n=treated["members"],
        holdout_hits=held["converted"], holdout_n=held["members"],
    )  # fmt: skip
    revenue = mean_diff_summary(
        treated_mean=treated["_mean"], treated_variance=treated["_variance"], treated_n=treated["members"],
        holdout_mean=held["_mean"], holdout_variance=held["_variance"], holdout_n=held["members"],
    )  # fmt: skip
    for group in (treated, held):
        del group["_mean"], group["_variance"]
    return {"conversion": _estimate(conversion), "revenue_per_member": _estimate(revenue)}


def campaign_report(*, shop: Shop, campaign: Campaign, now: datetime.datetime | None = None) -> dict:
    """The funnel, and the uplift figures: partial while the window runs (`final` False), frozen after it."""
    if campaign.report:
        return campaign.report
    now = now or timezone.now()
    counts = campaign_counts(shop=shop, campaign=campaign)
    window = _window(campaign)
    report = {"counts": counts, "coupon": campaign.coupon_counts or {}, "final": False, "uplift": None}
    if window is None:
        return report
    treated, held = _group(shop, campaign, False, window), _group(shop, campaign, True, window)
    counts["converted"] = treated["converted"]
    estimates = uplift_estimates(treated, held)
    report.update(
        window={"from": window[0].isoformat(), "to": window[1].isoformat()},
        final=now >= window[1],
        uplift={
            "treated": treated,
            "holdout": held,
            **estimates,
        },
        cost=_cost(shop, campaign),
    )
    if report["final"] and campaign.status in (CampaignStatus.DONE, CampaignStatus.CANCELLED):
        Campaign.objects.filter(shop=shop, pk=campaign.pk).update(report=report)
    return report
