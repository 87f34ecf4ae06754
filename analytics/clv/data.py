"""The models' data from the orders table, set-based: one GROUP BY per (member, shop-local day), one per member.

An order counts as analytics defines it (analytics.rollups.counted_orders): neither cancelled nor fully refunded,
on its payment day in the shop's time zone, worth its amount less its refunds. A member's purchases are the days
with a counted order (two orders on one day are one purchase of their summed value, as in the papers' CDNOW data):
x is the number of purchase days after the first, t_x the days from the first to the last, T the days from the
first to the end of the calibration period, m the mean value of the repeat purchase days. Erased members are left
out. With a holdout end, `holdout` counts each member's purchase days after the calibration end up to it."""

import datetime
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import TruncDate

from members.models import Member, MemberStatus
from orders.models import COUNTED_STATUSES, Order
from shops.models import Shop
from shops.time import day_start, shop_zone


@dataclass(frozen=True)
class Summary:
    member_id: np.ndarray
    x: np.ndarray  # repeat purchase days
    t_x: np.ndarray  # days from the first purchase to the last
    T: np.ndarray  # days from the first purchase to the calibration end
    m: np.ndarray  # mean value of the repeat purchase days (0 without any)
    holdout: np.ndarray  # purchase days after the calibration end (0 without a holdout)

    def __len__(self) -> int:
        return len(self.member_id)


def _days(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"({later} - {earlier})"
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


def _purchase_days(shop: Shop, until: datetime.datetime) -> tuple[str, list]:
    net = ExpressionWrapper(
        F("amount") - F("refunded_amount"), output_field=DecimalField(max_digits=16, decimal_places=2)
    )
    query = (
        Order.objects.filter(shop=shop, member__isnull=False, status__in=COUNTED_STATUSES, paid_at__lt=until)
        .annotate(day=TruncDate("paid_at", tzinfo=shop_zone(shop)))
        .order_by()
        .values("member_id", "day")
        .annotate(orders=Count("pk"), value=Sum(net))
        .values_list("member_id", "day", "value")
    )
    return query.query.sql_with_params()


WORK_MEM = "256MB"  # the member-day rows sorted and grouped in memory: at 5M orders, 33 s spilling to disk


def _summaries(rows, calibration_end, holdout_days) -> tuple[Summary, Summary | None]:
    if not rows:
        empty = np.zeros(0)
        blank = Summary(empty.astype(np.int64), empty, empty, empty, empty, empty)
        return blank, (blank if holdout_days else None)
    member_id, x, t_x, age, repeat, x_c, t_x_c, repeat_c, holdout = (np.asarray(c) for c in zip(*rows, strict=True))
    member_id = member_id.astype(np.int64)

    def mean(total, n):
        total = np.asarray(np.where(total == None, 0, total), dtype=float)  # noqa: E711 - elementwise
        n = n.astype(float)
        return np.divide(total, n, out=np.zeros_like(n), where=n > 0)

    x, t_x, age = x.astype(float), t_x.astype(float), age.astype(float)
    full = Summary(member_id, x, t_x, age, mean(repeat, x), np.zeros_like(x))
    if not holdout_days:
        return full, None
    keep = age >= holdout_days  # first purchase on or before the calibration end
    x_c = x_c[keep].astype(float)
    calibration = Summary(
        member_id[keep], x_c, t_x_c[keep].astype(float), age[keep] - holdout_days, mean(repeat_c[keep], x_c),
        holdout[keep].astype(float),
    )  # fmt: skip
    return full, calibration


def member_summary(*, shop: Shop, calibration_end: datetime.date, holdout_days: int = 0):
    """Each member with a purchase on or before `calibration_end` (a shop-local day, included). With `holdout_days`,
    also the summary as of `holdout_days` before it (members who had bought by then), with each one's purchase days
    in the holdout period after it: both from one pass over the orders. Returns the summary, or (summary,
    calibration summary) when a holdout is asked for."""
    cal = calibration_end - datetime.timedelta(days=holdout_days)
    days_sql, days_params = _purchase_days(shop, day_start(shop, calibration_end + datetime.timedelta(days=1)))
    sql = f"""
        WITH p (member_id, day, value) AS ({days_sql})
        SELECT d.member_id,
               COUNT(*) - 1,
               {_days("MAX(d.day)", "MIN(d.day)")},
               {_days("%s", "MIN(d.day)")},
               SUM(d.value) FILTER (WHERE d.n > 1),
               COUNT(*) FILTER (WHERE d.day <= %s) - 1,
               {_days("MAX(d.day) FILTER (WHERE d.day <= %s)", "MIN(d.day)")},
               SUM(d.value) FILTER (WHERE d.n > 1 AND d.day <= %s),
               COUNT(*) FILTER (WHERE d.day > %s)
        FROM (
            SELECT p.member_id, p.day, CAST(p.value AS DOUBLE PRECISION) AS value,
                   ROW_NUMBER() OVER (PARTITION BY p.member_id ORDER BY p.day) AS n
            FROM p
        ) d
        GROUP BY d.member_id
        ORDER BY d.member_id
    """  # noqa: S608 - the parts are SQL from code; every value is a parameter (the shop's orders: _purchase_days)
    params = [*days_params, calibration_end, cal, cal, cal, cal]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The shop's orders are most of the table: read in member order through the (shop, member, paid)
            # index they are fetched at random from the heap (25 s at 5M orders); a sequential scan sorted in
            # memory takes a fraction of that.
            settings = f"SET LOCAL work_mem = '{WORK_MEM}'; SET LOCAL enable_indexscan = off; "
            cursor.execute(settings + "SET LOCAL enable_bitmapscan = off")  # tenant-ok: settings, no rows
        cursor.execute(sql, params)  # tenant-ok: the shop's orders (_purchase_days filters on the shop)
        rows = cursor.fetchall()
        if connection.vendor == "postgresql":  # back to the session's settings for the rest of the transaction
            cursor.execute("RESET work_mem; RESET enable_indexscan; RESET enable_bitmapscan")  # tenant-ok: settings
    # Erased members keep their orders (the facts) but get no scores: few, read apart and left out.
    erased = set(Member.objects.filter(shop=shop, status=MemberStatus.ERASED).values_list("pk", flat=True))
    if erased:
        rows = [row for row in rows if row[0] not in erased]
    full, calibration = _summaries(rows, calibration_end, holdout_days)
    return (full, calibration) if holdout_days else full


def first_purchase_day(*, shop: Shop) -> datetime.date | None:
    """The shop-local day of the first counted order of a member (the (shop, paid) index: one row read)."""
    first = (
        Order.objects.filter(shop=shop, member__isnull=False, status__in=COUNTED_STATUSES)
        .order_by("paid_at")
        .values_list("paid_at", flat=True)
        .first()
    )
    return first.astimezone(shop_zone(shop)).date() if first else None
