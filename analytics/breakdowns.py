"""The analytics pages' tables beyond the headline figures (SPEC 14), read from the rollups: joins by channel with
conversion from visits, tier distribution over time with upgrades and downgrades, points liability, breakage and
their IFRS 15 view, outstanding points by expiry month, and the latest campaigns' results.

Periods are shop-local days, both included; money is Decimal, rates floats 0..1 or None."""

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from campaigns.reports import campaign_report
from campaigns.selectors import campaign_list
from points.models import EntryKind
from recruitment.models import Channel, ChannelDay
from shops.models import Shop
from tiers.models import Tier

from .liability import recognised
from .models import JoinDay, PointsDay, PointsExpiryMonth, TierDay
from .selectors import _rate, points_outstanding, points_value
from .trends import buckets

CENT = Decimal("0.01")
BREAKAGE_DAYS = 365
CAMPAIGNS_SHOWN = 5


def joins_by_channel(*, shop: Shop, first: datetime.date, last: datetime.date) -> list[dict]:
    """Per channel: joins (JoinDay, by the channel code members joined through), and from the channel's own
    counters (recruitment.ChannelDay) visits, unique visitors and the joins they led to, with conversion = those
    joins / unique visitors. Members who joined through no channel come last as one row (channel None)."""
    period = {"shop": shop, "day__gte": first, "day__lte": last}
    joins: dict[str, int] = {}
    for code, n in (
        JoinDay.objects.filter(**period)
        .order_by()
        .values("channel")
        .annotate(n=Sum("joins"))
        .values_list("channel", "n")
    ):
        key = code if code == "purchase" else code.strip().upper()  # as recruitment.selectors.channel_of_join reads it
        joins[key] = joins.get(key, 0) + n
    counters = {
        r["channel"]: r
        for r in ChannelDay.objects.filter(**period)
        .order_by()
        .values("channel")
        .annotate(visits=Sum("visits"), visitors=Sum("visitors"), joins=Sum("joins"))
    }
    rows = []
    for channel in Channel.objects.filter(shop=shop).order_by("name", "pk"):
        c = counters.get(channel.pk, {})
        member_joins = joins.pop("purchase", 0) if channel.kind == "purchase" else joins.pop(channel.code, 0)
        if not (c or member_joins):
            continue
        visitors = c.get("visitors") or 0
        rows.append(
            {
                "channel": channel.name,
                "kind": channel.get_kind_display(),
                "joins": member_joins,
                "visits": c.get("visits") or 0,
                "visitors": visitors,
                "channel_joins": c.get("joins") or 0,
                "conversion": _rate(c.get("joins") or 0, visitors),
            }
        )
    other = sum(joins.values())
    if other:
        rows.append(
            {
                "channel": None,
                "kind": "",
                "joins": other,
                "visits": None,
                "visitors": None,
                "channel_joins": None,
                "conversion": None,
            }
        )
    return rows


def tier_distribution(*, shop: Shop, first: datetime.date, last: datetime.date, grain: str) -> dict:
    """Members per tier at the end of each bucket, and the bucket's upgrades and downgrades. A tier's members at a
    day's end are its entries less its leavings up to that day (TierDay); the tier members join in (rank 0, NULL
    in TierDay) adds the joins (JoinDay). {"buckets", "tiers": [(tier id | None, name)], "members": {tier id:
    [count per bucket]}, "upgrades": [...], "downgrades": [...]}."""
    periods = buckets(first, last, grain)
    n = len(periods)
    ladder = list(Tier.objects.filter(shop=shop).order_by("rank", "pk").values_list("pk", "name", "rank"))
    base = next((pk for pk, _name, rank in ladder if rank == 0), None)
    before = {
        r["tier"]: (r["e"] or 0) - (r["l"] or 0)
        for r in TierDay.objects.filter(shop=shop, day__lt=first)
        .order_by()
        .values("tier")
        .annotate(e=Sum("entered"), l=Sum("left"))
    }
    level = {(base if tier is None else tier): 0 for tier in before}
    for tier, count in before.items():
        level[base if tier is None else tier] += count
    level[base] = (
        level.get(base, 0)
        + (JoinDay.objects.filter(shop=shop, day__lt=first).aggregate(n=Coalesce(Sum("joins"), 0))["n"])
    )
    daily: dict = {}
    for r in TierDay.objects.filter(shop=shop, day__gte=first, day__lte=last).values(
        "day", "tier", "entered", "left", "upgrades", "downgrades"
    ):
        daily.setdefault(r["day"], []).append(r)
    joined = dict(
        JoinDay.objects.filter(shop=shop, day__gte=first, day__lte=last)
        .order_by()
        .values("day")
        .annotate(n=Sum("joins"))
        .values_list("day", "n")
    )
    members = {pk: [0] * n for pk, _name, _rank in ladder}
    ups, downs = [0] * n, [0] * n
    for i, b in enumerate(periods):
        day = b.first
        while day <= b.last:
            level[base] = level.get(base, 0) + joined.get(day, 0)
            for r in daily.get(day, ()):
                tier = base if r["tier"] is None else r["tier"]
                level[tier] = level.get(tier, 0) + r["entered"] - r["left"]
                ups[i] += r["upgrades"]
                downs[i] += r["downgrades"]
            day += datetime.timedelta(days=1)
        for pk in members:
            members[pk][i] = level.get(pk, 0)
    return {
        "buckets": periods,
        "tiers": [(pk, name) for pk, name, _rank in ladder],
        "members": members,
        "upgrades": ups,
        "downgrades": downs,
    }


def _points_by_kind(shop: Shop, first: datetime.date, last: datetime.date) -> dict:
    rows = PointsDay.objects.filter(shop=shop, day__gte=first, day__lte=last).aggregate(
        issued=Coalesce(Sum("points_in", filter=Q(kind__in=(EntryKind.EARN, EntryKind.ADJUST))), 0),
        redeemed=Coalesce(Sum("points_out", filter=Q(kind=EntryKind.REDEEM)), 0),
        expired=Coalesce(Sum("points_out", filter=Q(kind=EntryKind.EXPIRE)), 0),
    )
    return {"issued": rows["issued"], "redeemed": -rows["redeemed"], "expired": -rows["expired"]}


def points_view(*, shop: Shop, first: datetime.date, last: datetime.date) -> dict:
    """The points page's figures:

    - issued (earned and credited adjustments), redeemed and expired in the period; outstanding at its end; the
      liability = outstanding x the value of a point at the shop's points-as-cash rate (None without a rate);
    - breakage rate = expired / (expired + redeemed) over the 365 days ending on `last`;
    - the IFRS 15 view of the period: of the value of the points issued in it (allocated), the revenue recognised
      as points were redeemed against the points expected to be redeemed (issued x (1 - breakage)); the rest stays
      deferred. None without a rate, points issued or expected redemptions."""
    period = _points_by_kind(shop, first, last)
    trailing = _points_by_kind(shop, last - datetime.timedelta(days=BREAKAGE_DAYS - 1), last)
    breakage = _rate(trailing["expired"], trailing["expired"] + trailing["redeemed"])
    outstanding = points_outstanding(shop=shop, last=last)
    value = points_value(shop=shop)
    ifrs = None
    expected_rate = 1 - breakage if breakage is not None else 1.0
    expected = int((Decimal(period["issued"]) * Decimal(str(expected_rate))).to_integral_value(ROUND_HALF_UP))
    if value is not None and period["issued"] and expected > 0:
        allocated = (period["issued"] * value).quantize(CENT, rounding=ROUND_HALF_UP)
        revenue = recognised(
            allocated=allocated,
            redeemed_cumulative=period["redeemed"],
            expected_total=expected,
            recognised_before=Decimal(0),
        )
        ifrs = {
            "allocated": allocated,
            "expected": expected,
            "expected_rate": expected_rate,
            "recognised": revenue,
            "deferred": allocated - revenue,
        }
    return {
        **period,
        "outstanding": outstanding,
        "value": value,
        "liability": (outstanding * value).quantize(CENT, rounding=ROUND_HALF_UP) if value is not None else None,
        "breakage_rate": breakage,
        "trailing": trailing,
        "ifrs": ifrs,
    }


def points_by_expiry_month(*, shop: Shop) -> dict:
    """The latest snapshot of outstanding points by expiry month, soonest first, never-expiring last:
    {"taken_on": date | None, "rows": [{"month": date | None, "points": int, "value": Decimal | None}]}."""
    value = points_value(shop=shop)
    rows = list(PointsExpiryMonth.objects.filter(shop=shop).order_by("month").values("month", "points", "taken_on"))
    rows.sort(key=lambda r: (r["month"] is None, r["month"] or datetime.date.min))
    return {
        "taken_on": rows[0]["taken_on"] if rows else None,
        "rows": [
            {
                "month": r["month"],
                "points": r["points"],
                "value": (r["points"] * value).quantize(CENT, rounding=ROUND_HALF_UP) if value is not None else None,
            }
            for r in rows
        ],
    }


def latest_campaign_results(*, shop: Shop, limit: int = CAMPAIGNS_SHOWN) -> list[dict]:
    """The latest started campaigns' results (campaigns.reports): sent, converted and the conversion uplift
    against the holdout. A report is a few aggregate queries (frozen once its window has passed)."""
    rows = []
    for campaign in campaign_list(shop=shop).filter(started_at__isnull=False)[:limit]:
        report = campaign_report(shop=shop, campaign=campaign)
        uplift = (report.get("uplift") or {}).get("conversion")
        rows.append(
            {
                "campaign": campaign,
                "sent": report["counts"].get("sent", 0),
                "converted": report["counts"].get("converted"),
                "uplift": uplift["difference"] if uplift else None,
                "significant": uplift["significant"] if uplift else None,
            }
        )
    return rows
