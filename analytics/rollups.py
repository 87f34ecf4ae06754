"""Recomputing the daily rollups (analytics.models) of a range of shop-local days from the facts, set-based: for each
table, the range's rows are deleted and written again from one GROUP BY over the facts of the range, in one
transaction. Running a range twice changes nothing; a late fact corrects its day when that day is run again.

The daily pass (`rollup_pass`) runs yesterday, and every earlier day the events consumer marked dirty (a refund of
an older order, a status change), once the shop's local day has ended. `analytics_backfill` runs any range."""

import datetime

from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMonth

from coupons.models import Coupon, Redemption
from members.models import Member
from orders.models import COUNTED_STATUSES, Order
from points.models import PointsEntry, PointsLot
from recruitment.models import Referral, ReferralStatus
from shops.models import Shop
from shops.time import days_bounds, local_today, shop_zone
from tiers.models import TierChange

from .models import (
    CouponDay,
    DirtyDay,
    JoinDay,
    MemberDay,
    PeriodBuyers,
    PointsDay,
    PointsExpiryMonth,
    ReferralDay,
    RollupState,
    SalesDay,
    TierDay,
)
from .selectors import period_buyers_count, previous_period, rollups_changed

STANDARD_DAYS = 30  # the overview's and the pages' default period: the last 30 days, beside the 30 before
ZERO = Value(0, output_field=DecimalField(max_digits=16, decimal_places=2))
NET = ExpressionWrapper(F("amount") - F("refunded_amount"), output_field=DecimalField(max_digits=16, decimal_places=2))


def _day(field: str, shop: Shop):
    return TruncDate(field, tzinfo=shop_zone(shop))


def counted_orders(*, shop: Shop, start: datetime.datetime, end: datetime.datetime):
    """The orders that count (SPEC 14): paid in [start, end), neither cancelled nor fully refunded."""
    return Order.objects.filter(shop=shop, paid_at__gte=start, paid_at__lt=end, status__in=COUNTED_STATUSES)


def _replace(model, shop: Shop, first: datetime.date, last: datetime.date, rows: list) -> int:
    model.objects.filter(shop=shop, day__gte=first, day__lte=last).delete()
    model.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _sales(shop: Shop, first, last, start, end) -> int:
    with_coupon = Exists(
        Redemption.objects.filter(shop=shop, order_external_id=OuterRef("external_id"), reversed_at=None)
    )
    rows = (
        counted_orders(shop=shop, start=start, end=end)
        .annotate(day=_day("paid_at", shop), coupon=with_coupon)
        .order_by()
        .values("day")
        .annotate(
            n=Count("pk"),
            s=Coalesce(Sum(NET), ZERO),
            mn=Count("pk", filter=Q(member__isnull=False)),
            ms=Coalesce(Sum(NET, filter=Q(member__isnull=False)), ZERO),
            mb=Count("member_id", distinct=True),
            cn=Count("pk", filter=Q(coupon=True)),
            cs=Coalesce(Sum(NET, filter=Q(coupon=True)), ZERO),
        )
    )
    days = [
        SalesDay(shop=shop, day=r["day"], orders=r["n"], sales=r["s"], member_orders=r["mn"], member_sales=r["ms"],
                 buyers=r["mb"], coupon_orders=r["cn"], coupon_sales=r["cs"])
        for r in rows
    ]  # fmt: skip
    return _replace(SalesDay, shop, first, last, days)


MEMBER_DAY_COLUMNS = "shop_id, day, member_id, orders, sales"


def _member_days(shop: Shop, first, last, start, end) -> int:
    """One row per member and day with orders: millions over a backfill, so written set-based.

    Days with no member-day yet (the daily pass's yesterday, a first backfill; on SQLite every range, its rows
    deleted first) get INSERT ... SELECT, sorted. Days that have rows (a dirty day, a backfill run again) are
    brought to the new rows by difference: the new rows go to a temporary table, then the rows no longer there are
    deleted, the changed ones updated in place and the missing ones inserted. A row left as it was costs no write
    and no foreign-key check: each inserted row costs two (the member and the shop keys, about 40% of a month's
    writing, docs/benchmarks.md issue 20), and an update that keeps (shop, member) checks neither."""
    select = (
        counted_orders(shop=shop, start=start, end=end)
        .filter(member__isnull=False)
        .annotate(day=_day("paid_at", shop))
        .order_by()
        .values("day", "member_id")
        .annotate(r_shop=Value(shop.pk), r_orders=Count("pk"), r_sales=Coalesce(Sum(NET), ZERO))
        .values_list("r_shop", "day", "member_id", "r_orders", "r_sales")
    )
    existing = MemberDay.objects.using(DEFAULT_DB_ALIAS).filter(shop=shop, day__gte=first, day__lte=last)
    if connection.vendor != "postgresql":  # the embedded SQLite of tests and demos: no difference, rewritten whole
        existing.delete()
    if not existing.exists():
        # In member order, the deferred foreign-key checks and the (shop, member, day) index meet the members in
        # the order of their keys instead of at random: a month of bench-big (469,492 rows) went from 34.5 s to
        # 22.8 s, the member key's checks from 11.4 s to 5.2 s (docs/benchmarks.md, issue 20).
        sql, params = select.order_by("member_id", "day").query.sql_with_params()
        with connection.cursor() as cursor:
            # The SELECT is the shop's orders (counted_orders names the shop).
            cursor.execute(f"INSERT INTO analytics_memberday ({MEMBER_DAY_COLUMNS}) {sql}", params)  # noqa: S608
            return cursor.rowcount
    sql, params = select.query.sql_with_params()
    shop_days = {"shop": shop.pk, "first": first, "last": last}
    with connection.cursor() as cursor:
        # tenant-ok: a temporary table of this transaction, filled from the shop's orders just below.
        cursor.execute(
            "CREATE TEMP TABLE analytics_memberday_new (shop_id bigint, day date, member_id bigint, orders integer, "
            "sales numeric(16, 2)) ON COMMIT DROP"
        )
        # The SELECT is the shop's orders (counted_orders names the shop).
        cursor.execute(f"INSERT INTO analytics_memberday_new ({MEMBER_DAY_COLUMNS}) {sql}", params)  # noqa: S608
        written = cursor.rowcount
        # tenant-ok: statistics of the temporary table, so the joins below are planned for its size.
        cursor.execute("ANALYZE analytics_memberday_new")
        cursor.execute(
            "DELETE FROM analytics_memberday m WHERE m.shop_id = %(shop)s AND m.day >= %(first)s "
            "AND m.day <= %(last)s AND NOT EXISTS (SELECT 1 FROM analytics_memberday_new n "
            "WHERE n.day = m.day AND n.member_id = m.member_id)",
            shop_days,
        )
        cursor.execute(
            "UPDATE analytics_memberday m SET orders = n.orders, sales = n.sales FROM analytics_memberday_new n "
            "WHERE m.shop_id = %(shop)s AND m.day = n.day AND m.member_id = n.member_id "
            "AND (m.orders <> n.orders OR m.sales <> n.sales)",
            shop_days,
        )
        cursor.execute(
            f"INSERT INTO analytics_memberday ({MEMBER_DAY_COLUMNS}) SELECT {MEMBER_DAY_COLUMNS} "  # noqa: S608
            "FROM analytics_memberday_new n WHERE NOT EXISTS (SELECT 1 FROM analytics_memberday m "
            "WHERE m.shop_id = %(shop)s AND m.day = n.day AND m.member_id = n.member_id) ORDER BY member_id, day",
            shop_days,
        )
        # tenant-ok: the temporary table, dropped now so that a second range in the same transaction can make it.
        cursor.execute("DROP TABLE analytics_memberday_new")
    return written


def _joins(shop: Shop, first, last, start, end) -> int:
    rows = (
        Member.objects.filter(shop=shop, joined_at__gte=start, joined_at__lt=end)
        .annotate(day=_day("joined_at", shop))
        .order_by()
        .values("day", "join_channel")
        .annotate(n=Count("pk"))
    )
    days = [JoinDay(shop=shop, day=r["day"], channel=r["join_channel"], joins=r["n"]) for r in rows]
    return _replace(JoinDay, shop, first, last, days)


def _points(shop: Shop, first, last, start, end) -> int:
    rows = (
        PointsEntry.objects.filter(shop=shop, created_at__gte=start, created_at__lt=end)
        .annotate(day=_day("created_at", shop))
        .order_by()
        .values("day", "kind")
        .annotate(
            p_in=Coalesce(Sum("points", filter=Q(points__gt=0)), 0),
            p_out=Coalesce(Sum("points", filter=Q(points__lt=0)), 0),
        )
    )
    days = [
        PointsDay(shop=shop, day=r["day"], kind=r["kind"], points_in=r["p_in"], points_out=r["p_out"]) for r in rows
    ]
    return _replace(PointsDay, shop, first, last, days)


def _coupons(shop: Shop, first, last, start, end) -> int:
    issued = (
        Coupon.objects.filter(shop=shop, member__isnull=False, issued_at__gte=start, issued_at__lt=end)
        .annotate(day=_day("issued_at", shop))
        .order_by()
        .values("day")
        .annotate(n=Count("pk"))
    )
    redeemed = (
        Redemption.objects.filter(shop=shop, reversed_at=None, redeemed_at__gte=start, redeemed_at__lt=end)
        .annotate(day=_day("redeemed_at", shop))
        .order_by()
        .values("day")
        .annotate(n=Count("pk"), d=Coalesce(Sum("discount"), ZERO))
    )
    days: dict = {}
    for r in issued:
        days.setdefault(r["day"], CouponDay(shop=shop, day=r["day"])).issued = r["n"]
    for r in redeemed:
        row = days.setdefault(r["day"], CouponDay(shop=shop, day=r["day"]))
        row.redeemed, row.discount = r["n"], r["d"]
    return _replace(CouponDay, shop, first, last, list(days.values()))


def _tiers(shop: Shop, first, last, start, end) -> int:
    changes = TierChange.objects.filter(shop=shop, changed_at__gte=start, changed_at__lt=end).annotate(
        day=_day("changed_at", shop),
        up=Case(
            When(Q(to_tier__rank__gt=Coalesce(F("from_tier__rank"), 0)), then=1), default=0, output_field=IntegerField()
        ),
    )
    rows: dict = {}
    for r in changes.order_by().values("day", "to_tier").annotate(n=Count("pk"), ups=Sum("up")):
        row = rows.setdefault((r["day"], r["to_tier"]), TierDay(shop=shop, day=r["day"], tier_id=r["to_tier"]))
        row.entered, row.upgrades, row.downgrades = r["n"], r["ups"], r["n"] - r["ups"]
    for r in changes.order_by().values("day", "from_tier").annotate(n=Count("pk")):
        rows.setdefault((r["day"], r["from_tier"]), TierDay(shop=shop, day=r["day"], tier_id=r["from_tier"])).left = r[
            "n"
        ]
    return _replace(TierDay, shop, first, last, list(rows.values()))


def _referrals(shop: Shop, first, last, start, end) -> int:
    joined = (
        Referral.objects.filter(shop=shop, created_at__gte=start, created_at__lt=end)
        .annotate(day=_day("created_at", shop))
        .order_by()
        .values("day")
        .annotate(n=Count("pk"))
    )
    rewarded = (
        Referral.objects.filter(shop=shop, status=ReferralStatus.REWARDED, rewarded_at__gte=start, rewarded_at__lt=end)
        .annotate(day=_day("rewarded_at", shop))
        .order_by()
        .values("day")
        .annotate(n=Count("pk"))
    )
    days: dict = {}
    for r in joined:
        days.setdefault(r["day"], ReferralDay(shop=shop, day=r["day"])).joins = r["n"]
    for r in rewarded:
        days.setdefault(r["day"], ReferralDay(shop=shop, day=r["day"])).rewarded = r["n"]
    return _replace(ReferralDay, shop, first, last, list(days.values()))


TABLES = (_sales, _member_days, _joins, _points, _coupons, _tiers, _referrals)


def rollup_days(*, shop: Shop, first: datetime.date, last: datetime.date) -> dict[str, int]:
    """Recompute every rollup for the shop-local days first..last (both included), in one transaction. Returns the
    rows written per table."""
    if last < first:
        raise ValueError("the range ends before it starts")
    start, end = days_bounds(shop, first, last)
    written = {}
    with transaction.atomic():
        _lock(shop)
        # The buyers counted for a period that overlaps these days no longer hold: until the pass counts them again
        # (period_buyers_refresh), the selectors count them live.
        PeriodBuyers.objects.filter(shop=shop, first__lte=last, last__gte=first).delete()
        for table in TABLES:
            written[table.__name__.lstrip("_")] = table(shop, first, last, start, end)
        DirtyDay.objects.filter(shop=shop, day__gte=first, day__lte=last).delete()
        # Now and again at the commit: a page that read the old rows in between cached them under the first version.
        rollups_changed(shop=shop)
        transaction.on_commit(lambda: rollups_changed(shop=shop))
    return written


def _lock(shop: Shop) -> RollupState:
    """The shop's RollupState row, locked to the end of the transaction: rewriting a shop's rollups and counting its
    period buyers take turns, so a count never reads the member-days a rewrite is replacing and then outlives the
    rewrite's deletion of the counts (nor do two rewrites of the same days meet on the unique keys)."""
    RollupState.objects.get_or_create(shop=shop)
    return RollupState.objects.select_for_update().get(shop=shop)


def standard_periods(*, yesterday: datetime.date) -> list[tuple[datetime.date, datetime.date]]:
    """The periods whose buyers the pass counts: the last STANDARD_DAYS days through yesterday, and the ones before
    (what the overview shows, and the summary as `previous`)."""
    current = (yesterday - datetime.timedelta(days=STANDARD_DAYS - 1), yesterday)
    return [current, previous_period(*current)]


@transaction.atomic
def period_buyers_refresh(*, shop: Shop, yesterday: datetime.date) -> int:
    """Count the active and repeat buyers of the standard periods ending `yesterday` into PeriodBuyers, where not
    already counted (a row is deleted when a day of its period is rolled up again, so one that is there holds),
    and drop the shop's rows of other periods. Counted on the primary, under the shop's rollup lock (_lock), with
    the same query the selectors run live. Returns the periods counted."""
    _lock(shop)
    periods = standard_periods(yesterday=yesterday)
    stale = PeriodBuyers.objects.filter(shop=shop)
    for first, last in periods:
        stale = stale.exclude(first=first, last=last)
    stale.delete()
    have = set(PeriodBuyers.objects.using(DEFAULT_DB_ALIAS).filter(shop=shop).values_list("first", "last"))
    counted = 0
    for first, last in periods:
        if (first, last) in have:
            continue
        buyers = period_buyers_count(shop=shop, first=first, last=last, using=DEFAULT_DB_ALIAS)
        PeriodBuyers.objects.create(shop=shop, first=first, last=last, **buyers)
        counted += 1
    return counted


@transaction.atomic
def points_expiry_snapshot(*, shop: Shop, taken_on: datetime.date) -> int:
    """Replace the shop's PointsExpiryMonth rows with its open lots' remainders grouped by the shop-local month of
    their expiry (one GROUP BY over the open lots, which the partial index points_lot_open covers)."""
    rows = (
        PointsLot.objects.filter(shop=shop, remaining__gt=0)
        .annotate(month=TruncMonth("expires_at", tzinfo=shop_zone(shop)))
        .order_by()
        .values("month")
        .annotate(p=Sum("remaining"))
    )
    months = [
        PointsExpiryMonth(shop=shop, month=r["month"].date() if r["month"] else None, points=r["p"], taken_on=taken_on)
        for r in rows
    ]
    PointsExpiryMonth.objects.filter(shop=shop).delete()
    PointsExpiryMonth.objects.bulk_create(months)
    return len(months)


def rollup_pass(*, shop: Shop, now: datetime.datetime | None = None) -> list[datetime.date]:
    """The daily pass: every day from the one after the last rolled up through yesterday (shop time), and every
    earlier day marked dirty; then the snapshot of outstanding points by expiry month and the buyers of the standard
    periods. Returns the days recomputed."""
    yesterday = local_today(shop, now) - datetime.timedelta(days=1)
    state, _ = RollupState.objects.get_or_create(shop=shop)
    days = set(DirtyDay.objects.filter(shop=shop, day__lte=yesterday).values_list("day", flat=True))
    start = (state.rolled_through + datetime.timedelta(days=1)) if state.rolled_through else yesterday
    if start <= yesterday:
        rollup_days(shop=shop, first=start, last=yesterday)
        covered = {start + datetime.timedelta(days=i) for i in range((yesterday - start).days + 1)}
        days -= covered
    else:
        covered = set()
    for day in sorted(days):
        rollup_days(shop=shop, first=day, last=day)
    RollupState.objects.filter(shop=shop).update(rolled_through=max(yesterday, state.rolled_through or yesterday))
    points_expiry_snapshot(shop=shop, taken_on=yesterday + datetime.timedelta(days=1))
    period_buyers_refresh(shop=shop, yesterday=yesterday)
    return sorted(days | covered)
