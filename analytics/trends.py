"""Trends (SPEC 14): a figure's series over a period by day, ISO week or month, with the previous period's series
beside it, read from the rollups only.

Buckets are calendar days, ISO weeks (Monday to Sunday) or calendar months, clipped to the period. The previous
series has the same buckets moved back by the period's length in days (the period of the same length just before,
analytics.selectors.previous_period), so the two lines have the same number of points and line up bucket by bucket.

Each figure costs one query over both periods: sums of day rows bucketed in Python (a period is at most about two
years of days), and distinct active members per bucket: by day the day rows' buyers, by week or month counted in
SQL over the members' days."""

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Case, Count, IntegerField, Sum, Value, When

from shops.models import Shop

from .models import CouponDay, JoinDay, MemberDay, PointsDay, SalesDay
from .selectors import ISSUED_KINDS, previous_period

GRAINS = ("day", "week", "month")
CENT = Decimal("0.01")
ONE = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Bucket:
    first: datetime.date
    last: datetime.date

    @property
    def key(self) -> str:
        return self.first.isoformat()


def buckets(first: datetime.date, last: datetime.date, grain: str) -> list[Bucket]:
    """The period's buckets in order, the first and last clipped to the period."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {GRAINS}")
    out, start = [], first
    while start <= last:
        if grain == "day":
            end = start
        elif grain == "week":
            end = start + datetime.timedelta(days=6 - start.weekday())
        else:
            following = (start.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
            end = following - ONE
        end = min(end, last)
        out.append(Bucket(start, end))
        start = end + ONE
    return out


def default_grain(first: datetime.date, last: datetime.date) -> str:
    days = (last - first).days + 1
    return "day" if days <= 62 else "week" if days <= 26 * 7 else "month"


def bucket_label(bucket: Bucket, grain: str) -> str:
    if grain == "month":
        return bucket.first.strftime("%y-%m")
    return f"{bucket.first.month}/{bucket.first.day}"


def _index(first: datetime.date, last: datetime.date, grain: str) -> tuple[list[Bucket], dict]:
    """The buckets and {day: (bucket index, 0 current | 1 previous)} over both periods."""
    current = buckets(first, last, grain)
    shift = (last - first).days + 1
    days = {}
    for i, b in enumerate(current):
        for k in range((b.last - b.first).days + 1):
            day = b.first + datetime.timedelta(days=k)
            days[day] = (i, 0)
            days[day - datetime.timedelta(days=shift)] = (i, 1)
    return current, days


def _sums(model, shop: Shop, first, last, grain: str, fields: dict, **filters) -> dict[str, tuple[list, list]]:
    """{name: (current, previous)} of the day rows' sums, `fields` {name: model field}."""
    current, days = _index(first, last, grain)
    before, _ = previous_period(first, last)
    n = len(current)
    out = {name: ([0] * n, [0] * n) for name in fields}
    rows = (
        model.objects.filter(shop=shop, day__gte=before, day__lte=last, **filters)
        .order_by()
        .values("day")
        .annotate(**{f"v_{name}": Sum(field) for name, field in fields.items()})
    )
    for row in rows:
        i, side = days[row["day"]]
        for name in fields:
            out[name][side][i] += row[f"v_{name}"] or 0
    return out


def _active(shop: Shop, first, last, grain: str) -> tuple[list[int], list[int]]:
    """Distinct members with a counted order per bucket, both periods: one GROUP BY over the members' days."""
    current, days = _index(first, last, grain)
    before, _ = previous_period(first, last)
    n = len(current)
    rows = MemberDay.objects.filter(shop=shop, day__gte=before, day__lte=last).order_by()
    if grain == "day":
        grouped = rows.values("day").annotate(n=Count("member_id", distinct=True))
        keyed = ((days[r["day"]], r["n"]) for r in grouped)
    else:
        whens = []
        for i, b in enumerate(current):
            shift = datetime.timedelta(days=(last - first).days + 1)
            whens.append(When(day__gte=b.first, day__lte=b.last, then=Value(i)))
            whens.append(When(day__gte=b.first - shift, day__lte=b.last - shift, then=Value(n + i)))
        grouped = (
            rows.annotate(bucket=Case(*whens, output_field=IntegerField()))
            .values("bucket")
            .annotate(n=Count("member_id", distinct=True))
        )
        keyed = (((r["bucket"] % n, r["bucket"] // n), r["n"]) for r in grouped)
    out = ([0] * n, [0] * n)
    for (i, side), count in keyed:
        out[side][i] = count
    return out


def _ratio(numerators, denominators) -> list[float | None]:
    return [round(float(a) / float(b), 4) if b else None for a, b in zip(numerators, denominators, strict=True)]


FIGURES = ("sales", "orders", "member_share", "new_members", "active_members")


def trend(*, shop: Shop, first: datetime.date, last: datetime.date, grain: str) -> dict:
    """{"buckets": [Bucket], "series": {figure: {"current": [...], "previous": [...]}}} for the FIGURES: sales
    (Decimal), orders, member share of sales (0..1 or None), new members, active members; and members' sales."""
    current = buckets(first, last, grain)
    fields = {"sales": "sales", "orders": "orders", "member_sales": "member_sales", "buyers": "buyers"}
    sales = _sums(SalesDay, shop, first, last, grain, fields)
    joins = _sums(JoinDay, shop, first, last, grain, {"joins": "joins"})
    # A day's active members are its buyers, stored on the day row; a week's or a month's are not a sum of days
    # (a member who bought on two days counts once), so they are counted over the members' days.
    active = sales["buyers"] if grain == "day" else _active(shop, first, last, grain)
    series = {
        "sales": [[Decimal(v).quantize(CENT) for v in side] for side in sales["sales"]],
        "orders": sales["orders"],
        "member_sales": [[Decimal(v).quantize(CENT) for v in side] for side in sales["member_sales"]],
        "member_share": [_ratio(sales["member_sales"][k], sales["sales"][k]) for k in (0, 1)],
        "new_members": joins["joins"],
        "active_members": active,
    }
    return {"buckets": current, "series": {k: {"current": v[0], "previous": v[1]} for k, v in series.items()}}


def coupon_trend(*, shop: Shop, first: datetime.date, last: datetime.date, grain: str) -> dict:
    sums = _sums(CouponDay, shop, first, last, grain, {"issued": "issued", "redeemed": "redeemed"})
    return {
        "buckets": buckets(first, last, grain),
        "series": {k: dict(zip(("current", "previous"), v, strict=True)) for k, v in sums.items()},
    }


def points_trend(*, shop: Shop, first: datetime.date, last: datetime.date, grain: str) -> dict:
    """Points issued (earned and positive adjustments), redeemed and expired per bucket (current period only)."""
    current, days = _index(first, last, grain)
    n = len(current)
    out = defaultdict(lambda: [0] * n)
    rows = (
        PointsDay.objects.filter(shop=shop, day__gte=first, day__lte=last)
        .order_by()
        .values("day", "kind")
        .annotate(i=Sum("points_in"), o=Sum("points_out"))
    )
    for row in rows:
        i, _side = days[row["day"]]
        if row["kind"] in ISSUED_KINDS:
            out["issued"][i] += row["i"] or 0
        elif row["kind"] in ("redeem", "expire"):
            out["redeemed" if row["kind"] == "redeem" else "expired"][i] -= row["o"] or 0
    return {"buckets": current, "series": {k: out[k] for k in ("issued", "redeemed", "expired")}}
