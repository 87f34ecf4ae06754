"""Pure rules of the points program: no database writes."""

import zoneinfo
from datetime import datetime

from shops.models import Shop


def default_expiry(*, shop: Shop, earned_at: datetime) -> datetime:
    """The default program's expiry (SPEC 3): valid until the end of the following calendar year in the shop's time
    zone, i.e. expiring at the first instant of the year after that."""
    local = earned_at.astimezone(zoneinfo.ZoneInfo(shop.time_zone))
    return local.replace(year=local.year + 2, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
