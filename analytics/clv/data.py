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
from django.db import connection
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import TruncDate

from members.models import LIVE_SQL
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


def member_summary(*, shop: Shop, calibration_end: datetime.date, holdout_end: datetime.date | None = None) -> Summary:
    """Each member with a purchase on or before `calibration_end` (a shop-local day, included)."""
    last_day = holdout_end or calibration_end
    days_sql, days_params = _purchase_days(shop, day_start(shop, last_day + datetime.timedelta(days=1)))
    first = "MIN(d.day)"
    sql = f"""
        WITH d (member_id, day, value) AS ({days_sql}),
        g AS (
            SELECT d.member_id, {first} AS first_day,
                   COUNT(*) FILTER (WHERE d.day <= %s) - 1 AS x,
                   {_days("MAX(d.day) FILTER (WHERE d.day <= %s)", first)} AS t_x,
                   {_days("%s", first)} AS age,
                   SUM(d.value) FILTER (WHERE d.day <= %s) AS total,
                   COUNT(*) FILTER (WHERE d.day > %s) AS holdout
            FROM d
            GROUP BY d.member_id
            HAVING {first} <= %s
        )
        SELECT g.member_id, g.x, g.t_x, g.age, CAST(g.total - f.value AS DOUBLE PRECISION), g.holdout
        FROM g
        JOIN d f ON f.member_id = g.member_id AND f.day = g.first_day
        JOIN members_member mm ON mm.id = g.member_id AND mm.shop_id = %s AND mm.{LIVE_SQL}
        ORDER BY g.member_id
    """  # noqa: S608 - the parts are SQL from code; every value is a parameter (the shop's orders: _purchase_days)
    end = calibration_end
    params = [*days_params, end, end, end, end, end, end, shop.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        empty = np.zeros(0)
        return Summary(empty.astype(np.int64), empty, empty, empty, empty, empty)
    member_id, x, t_x, age, repeat_total, holdout = zip(*rows, strict=True)
    x = np.asarray(x, dtype=float)
    repeat_total = np.asarray(repeat_total, dtype=float)
    m = np.divide(repeat_total, x, out=np.zeros_like(x), where=x > 0)
    return Summary(
        member_id=np.asarray(member_id, dtype=np.int64),
        x=x,
        t_x=np.asarray(t_x, dtype=float),
        T=np.asarray(age, dtype=float),
        m=m,
        holdout=np.asarray(holdout, dtype=float),
    )
