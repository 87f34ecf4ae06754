"""Monthly join cohorts (SPEC 14): for each month members joined in (the shop's calendar), the share of them who had a
counted order (not cancelled nor fully refunded, on its payment day) in each calendar month since, month 0 being the
month they joined. Written nightly into CohortCell from one GROUP BY over the members' days (MemberDay joined to the
member's join month), or over the counted orders themselves while a shop has no rolled-up days yet, replacing the
shop's rows in one transaction: running it twice changes nothing. The page reads those few hundred rows."""

import datetime

from django.db import transaction
from django.db.models import Count, F, IntegerField, QuerySet
from django.db.models.functions import ExtractMonth, ExtractYear, TruncMonth
from django.utils import timezone

from members.models import Member
from orders.models import COUNTED_STATUSES, Order
from shops.models import Shop
from shops.time import day_start, local_today, shop_zone

from .models import CohortCell, DeepState, MemberDay

COHORT_MONTHS = 24  # the cohorts computed and shown: this month's and the 23 before


def first_cohort(*, shop: Shop, today: datetime.date) -> datetime.date:
    """The first day of the oldest cohort kept: COHORT_MONTHS - 1 months before this month."""
    index = today.year * 12 + today.month - 1 - (COHORT_MONTHS - 1)
    return datetime.date(index // 12, index % 12 + 1, 1)


def _month_number(year: str, month: str):
    """Months since year 0 of an annotated year and month: differences count calendar months."""
    return F(year) * 12 + F(month)


def _ordered(*, shop: Shop, since: datetime.datetime) -> QuerySet:
    """(cohort month, months since, members who ordered) of members who joined from `since`: from the members' days
    when the shop has any, else from the counted orders (a shop whose rollups have not run yet)."""
    tz = shop_zone(shop)
    if MemberDay.objects.filter(shop=shop).exists():
        facts = MemberDay.objects.filter(shop=shop, member__shop=shop, member__joined_at__gte=since)
        joined, year, month = "member__joined_at", ExtractYear("day"), ExtractMonth("day")
    else:
        facts = Order.objects.filter(
            shop=shop, member__shop=shop, member__joined_at__gte=since, status__in=COUNTED_STATUSES
        )
        joined = "member__joined_at"
        year, month = ExtractYear("paid_at", tzinfo=tz), ExtractMonth("paid_at", tzinfo=tz)
    return (
        facts.annotate(
            cohort=TruncMonth(joined, tzinfo=tz),
            jy=ExtractYear(joined, tzinfo=tz),
            jm=ExtractMonth(joined, tzinfo=tz),
            oy=year,
            om=month,
        )
        .annotate(since=_month_number("oy", "om") - _month_number("jy", "jm"))
        .filter(since__gte=0)  # orders before joining (a member enrolled later, an import) belong to no cohort month
        .order_by()
        .values("cohort", "since")
        .annotate(n=Count("member_id", distinct=True, output_field=IntegerField()))
    )


def _as_date(value) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


@transaction.atomic
def cohorts_compute(*, shop: Shop, now: datetime.datetime | None = None) -> int:
    """Recompute the shop's cohort cells (the last COHORT_MONTHS join months). Returns the cells written."""
    now = now or timezone.now()
    tz = shop_zone(shop)
    first = first_cohort(shop=shop, today=local_today(shop, now))
    since = day_start(tz, first)
    sizes = {
        _as_date(r["cohort"]): r["n"]
        for r in Member.objects.filter(shop=shop, joined_at__gte=since)
        .annotate(cohort=TruncMonth("joined_at", tzinfo=tz))
        .order_by()
        .values("cohort")
        .annotate(n=Count("pk"))
    }
    cells = {
        (month, 0): CohortCell(shop=shop, cohort_month=month, months_since=0, members=n) for month, n in sizes.items()
    }
    for r in _ordered(shop=shop, since=since):
        month = _as_date(r["cohort"])
        cell = cells.setdefault(
            (month, r["since"]),
            CohortCell(shop=shop, cohort_month=month, months_since=r["since"], members=sizes.get(month, 0)),
        )
        cell.ordered = r["n"]
    CohortCell.objects.filter(shop=shop).delete()
    CohortCell.objects.bulk_create(cells.values(), batch_size=1000)
    DeepState.objects.update_or_create(shop=shop, defaults={"cohorts_at": now})
    return len(cells)
