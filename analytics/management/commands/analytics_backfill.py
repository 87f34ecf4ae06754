import datetime

from django.core.management.base import BaseCommand, CommandError

from analytics.deep import deep_views_compute
from analytics.rollups import period_buyers_refresh, rollup_days
from shops.models import Shop
from shops.selectors import shop_by_slug
from shops.tenancy import shop_scope
from shops.time import local_today

CHUNK_DAYS = 31  # a month per transaction: the rollups of a long range are written as they are done


class Command(BaseCommand):
    help = (
        "Recompute the analytics rollups of a shop for a range of days (shop time zone, both included), then the "
        "buyers of the last 30 days and the 30 before, its cohorts, RFM scores and items bought together (as of now)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="The shop's slug.")
        parser.add_argument("--from", dest="first", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="last", required=True, help="Last day, YYYY-MM-DD.")

    def handle(self, *args, shop, first, last, **options):
        try:
            first, last = datetime.date.fromisoformat(first), datetime.date.fromisoformat(last)
        except ValueError as exc:
            raise CommandError(f"Dates are YYYY-MM-DD: {exc}") from None
        if last < first:
            raise CommandError("--to is before --from.")
        try:
            target = shop_by_slug(slug=shop)
        except Shop.DoesNotExist:
            raise CommandError(f"No shop {shop!r}.") from None
        totals: dict[str, int] = {}
        with shop_scope(target):
            start = first
            while start <= last:
                end = min(start + datetime.timedelta(days=CHUNK_DAYS - 1), last)
                for table, n in rollup_days(shop=target, first=start, last=end).items():
                    totals[table] = totals.get(table, 0) + n
                start = end + datetime.timedelta(days=1)
            # The chunks dropped the buyers counted for the standard periods they touched: counted again now, as
            # the daily pass would.
            yesterday = local_today(target) - datetime.timedelta(days=1)
            totals["period_buyers"] = period_buyers_refresh(shop=target, yesterday=yesterday)
            totals.update(deep_views_compute(shop=target))
        self.stdout.write(", ".join(f"{table}: {n}" for table, n in totals.items()))
