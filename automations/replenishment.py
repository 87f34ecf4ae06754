"""Replenishment predictions (SPEC 13): when each member will buy a category again, from their own buying cycle.

For each member and category, the distinct shop-local days they bought it (counted orders, the last two years),
the gaps between consecutive days, and the median of their gaps. Few gaps say little, so the member's median is
shrunk towards the category's typical gap (the median of all members' gaps in it):

    gap = (n * member_median + SHRINK * category_median) / (n + SHRINK),   n = the member's number of gaps

and the expected re-purchase day is the last purchase day plus that gap. A member needs two purchase days of a
category (one gap) to have a prediction. The table is rebuilt per shop in one transaction, set-based (window
functions for the gaps and medians: no loop over members)."""

import datetime

from django.db import connection, transaction
from django.db.models.functions import TruncDate

from orders.models import COUNTED_STATUSES, OrderItem
from shops.models import Shop
from shops.time import shop_zone

SHRINK = 2  # the weight of the category's gap, in gaps of the member's own
HISTORY = datetime.timedelta(days=730)


def _days_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"({later} - {earlier})"
    return f"CAST(julianday({later}) - julianday({earlier}) AS integer)"


def _plus_days(day: str, days: str) -> str:
    if connection.vendor == "postgresql":
        return f"({day} + {days})"
    return f"date({day}, '+' || {days} || ' days')"


def _median(partition: str, source: str) -> str:
    """The median gap per `partition` of `source` (rows with a `gap`): the middle one, or the mean of the middle
    two, by row number (portable: PostgreSQL's percentile_cont has no SQLite twin)."""
    return (
        f"SELECT {partition}, AVG(gap) AS median, MAX(n) AS n FROM ("  # noqa: S608 - names from code
        f"SELECT {partition}, gap, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY gap) AS rn, "
        f"COUNT(*) OVER (PARTITION BY {partition}) AS n FROM {source}) AS r "
        f"WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY {partition}"
    )


def replenishment_refresh(*, shop: Shop, today: datetime.date) -> int:
    """Rebuild the shop's predictions from its orders up to `today`. Returns the (member, category) rows."""
    since = datetime.datetime.combine(today, datetime.time.min, tzinfo=shop_zone(shop)) - HISTORY
    bought = (
        OrderItem.objects.filter(
            shop=shop,
            order__member__isnull=False,
            order__status__in=COUNTED_STATUSES,
            order__paid_at__gte=since,
        )
        .exclude(category="")
        .annotate(day=TruncDate("order__paid_at", tzinfo=shop_zone(shop)))
        .values_list("order__member_id", "category", "day")
        .distinct()
        .order_by()
    )
    select, params = bought.query.sql_with_params()
    gap = _days_between("day", "LAG(day) OVER (PARTITION BY member_id, category ORDER BY day)")
    predicted = f"CAST(ROUND((mm.n * mm.median + {SHRINK} * cm.median) / (mm.n + {SHRINK})) AS integer)"
    sql = (
        f"WITH days(member_id, category, day) AS ({select}), "  # noqa: S608 - our SQL, values are parameters
        f"gaps AS (SELECT member_id, category, {gap} AS gap FROM days), "
        "known AS (SELECT member_id, category, gap FROM gaps WHERE gap IS NOT NULL), "
        f"mm AS ({_median('member_id, category', 'known')}), "
        f"cm AS ({_median('category', 'known')}), "
        "last AS (SELECT member_id, category, MAX(day) AS last_on, COUNT(*) AS purchases FROM days "
        "GROUP BY member_id, category) "
        "INSERT INTO automations_replenishment (shop_id, member_id, category, last_on, purchases, gap_days, "
        "expected_on) "
        f"SELECT %s, l.member_id, l.category, l.last_on, l.purchases, p.gap_days, "
        f"{_plus_days('l.last_on', 'p.gap_days')} "
        "FROM last l JOIN ("
        f"SELECT mm.member_id, mm.category, {predicted} AS gap_days FROM mm JOIN cm ON cm.category = mm.category"
        ") AS p ON p.member_id = l.member_id AND p.category = l.category WHERE p.gap_days > 0"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM automations_replenishment WHERE shop_id = %s", [shop.pk])
        cursor.execute(sql, [*params, shop.pk])
        return cursor.rowcount
