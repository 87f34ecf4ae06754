import datetime
import json

from django.core.management.base import BaseCommand, CommandError

from analytics.clv.fitting import FitFailed
from analytics.clv.scores import UNIT_DAYS, clv_fit
from shops.models import Shop
from shops.selectors import shop_by_slug
from shops.tenancy import shop_scope


class Command(BaseCommand):
    help = (
        "Fit a shop's BG/NBD and Gamma-Gamma models to its orders up to the calibration end (shop time zone, the day "
        "included; default yesterday) and print the parameters as JSON (SPEC 10). Writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="The shop's slug.")
        parser.add_argument("--calibration-end", dest="calibration_end", help="Last day of data, YYYY-MM-DD.")
        parser.add_argument("--time-unit", dest="time_unit", choices=sorted(UNIT_DAYS), default="week")

    def handle(self, *args, shop, calibration_end, time_unit, **options):
        end = None
        if calibration_end:
            try:
                end = datetime.date.fromisoformat(calibration_end)
            except ValueError as exc:
                raise CommandError(f"--calibration-end is YYYY-MM-DD: {exc}") from None
        try:
            target = shop_by_slug(slug=shop)
        except Shop.DoesNotExist:
            raise CommandError(f"No shop {shop!r}.") from None
        with shop_scope(target):
            try:
                fit = clv_fit(shop=target, calibration_end=end, time_unit=time_unit)
            except FitFailed as exc:
                raise CommandError(f"The models could not be fitted: {exc}.") from None
        self.stdout.write(json.dumps(fit.as_json()))
