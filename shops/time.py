"""Shop-local time: the one place that turns instants into the shop's days, months and quiet hours (CONVENTIONS 3
and 5b). Everything is stored as aware datetimes in UTC; a shop has a time zone (`Shop.time_zone`, default
Asia/Shanghai) in which its days begin, its birthdays fall and its months end.

- `shop_zone`, `as_local`, `local_now`, `local_today`, `local_date`: the zone and readings of the shop's clock;
- `day_start`, `day_bounds`, `days_bounds`, `month_bounds`: the instants (in UTC) where local days and months
  begin and end, as half-open intervals [start, end). A local day lasts 23 or 25 hours when the zone changes its
  clocks that day, so the end is always the next day's start, never start + 24 hours;
- `add_months`: calendar months on the shop's clock (retention periods, expiry dates);
- `QuietHours`: a daily window on the shop's clock (21:00-08:00 by default, SPEC 12): whether an instant is inside
  it, the next instant it ends, and when a message due at an instant may go out.

Each function takes the shop (anything with a `time_zone`), or a zone name, or a ZoneInfo: pure rules that carry
the zone's name (points, coupon windows) use the same arithmetic as the services that carry the shop.
"""

import calendar
import datetime
import re
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from django.utils import timezone

UTC = datetime.UTC
ONE_DAY = datetime.timedelta(days=1)


class HasTimeZone(Protocol):
    time_zone: str


Where = HasTimeZone | str | ZoneInfo


def shop_zone(where: Where) -> ZoneInfo:
    """The shop's time zone (a shop, a zone name or a ZoneInfo). ZoneInfo caches its instances per name."""
    if isinstance(where, ZoneInfo):
        return where
    return ZoneInfo(where if isinstance(where, str) else where.time_zone)


def as_local(where: Where, moment: datetime.datetime) -> datetime.datetime:
    """`moment` (aware) read on the shop's clock: an aware datetime in the shop's zone."""
    return moment.astimezone(shop_zone(where))


def local_now(where: Where, now: datetime.datetime | None = None) -> datetime.datetime:
    """Now (or `now`) on the shop's clock."""
    return as_local(where, now or timezone.now())


def local_today(where: Where, now: datetime.datetime | None = None) -> datetime.date:
    """The shop's calendar day now (or at `now`)."""
    return local_now(where, now).date()


def local_date(where: Where, moment: datetime.datetime) -> datetime.date:
    """The shop's calendar day that `moment` falls on."""
    return as_local(where, moment).date()


def wall_instant(where: Where, day: datetime.date, at: datetime.time = datetime.time.min) -> datetime.datetime:
    """The first instant (UTC) at which the shop's clock reads `day` `at` or later. A reading the clock skips (a
    spring-forward gap) becomes the end of the gap; a reading it shows twice (fall-back) its first occurrence."""
    zone = shop_zone(where)
    wall = datetime.datetime.combine(day, at)
    instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the offset before a transition
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # In a gap: fold=1 reads the wall time with the offset after the transition, which lands before the gap. The
    # transition lies between the two readings; find it to the second (transitions fall on whole seconds).
    lo = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    hi = int(instant.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.datetime.fromtimestamp(hi, UTC)


def day_start(where: Where, day: datetime.date) -> datetime.datetime:
    """The first instant (UTC) of the shop's calendar day `day`."""
    return wall_instant(where, day)


def day_bounds(where: Where, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) of the shop's day `day`, in UTC: 24 hours long, or 23 or 25 on a day the clocks change."""
    return day_start(where, day), day_start(where, day + ONE_DAY)


def days_bounds(
    where: Where, first: datetime.date | None, last: datetime.date | None
) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """[start, end) of the days `first` to `last`, both included (a filter's "from" and "to"); None stays None (no
    bound on that side)."""
    start = None if first is None else day_start(where, first)
    end = None if last is None else day_start(where, last + ONE_DAY)
    return start, end


def month_bounds(where: Where, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) of the shop's calendar month that contains `day`, in UTC."""
    first = day.replace(day=1)
    following = (first + datetime.timedelta(days=31)).replace(day=1)
    return day_start(where, first), day_start(where, following)


def add_months(where: Where, moment: datetime.datetime, months: int) -> datetime.datetime:
    """`moment` plus calendar months on the shop's clock, same reading; a day the target month lacks becomes its
    last day (31 January + 1 month = 28 or 29 February). Returned on the shop's clock."""
    local = as_local(where, moment)
    year, month0 = divmod(local.month - 1 + months, 12)
    year += local.year
    day = min(local.day, calendar.monthrange(year, month0 + 1)[1])
    return local.replace(year=year, month=month0 + 1, day=day)


_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class QuietHours:
    """A daily window on the shop's clock, from `start` (included) to `end` (excluded); it crosses midnight when
    `end` <= `start` reads earlier (21:00-08:00). A window whose start equals its end is empty: never quiet.

    Readings are wall-clock: on a fall-back night the hour shown twice is quiet twice when it is in the window."""

    start: datetime.time
    end: datetime.time

    @classmethod
    def parse(cls, text: str) -> "QuietHours":
        """From "HH:MM-HH:MM". Raises ValueError."""
        match = _WINDOW.match(text)
        if not match:
            raise ValueError(f"not a window of the form HH:MM-HH:MM: {text!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return cls(datetime.time(h1, m1), datetime.time(h2, m2))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, where: Where, moment: datetime.datetime) -> bool:
        """Whether the shop's clock reads inside the window at `moment`."""
        reading = as_local(where, moment).time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= reading < self.end
        return reading >= self.start or reading < self.end

    def next_end(self, where: Where, moment: datetime.datetime) -> datetime.datetime:
        """The next instant (UTC) after `moment` at which the window ends: the end of the window `moment` is in, or
        else of the next one."""
        zone = shop_zone(where)
        today = local_date(zone, moment)
        candidates = []
        for offset in (-1, 0, 1, 2):
            day = today + datetime.timedelta(days=offset)
            candidates.append(wall_instant(zone, day, self.end))
            # On a fall-back day the end's reading happens twice: the second may be the one still ahead.
            second = datetime.datetime.combine(day, self.end, tzinfo=zone).replace(fold=1).astimezone(UTC)
            if second.astimezone(zone).replace(tzinfo=None) == datetime.datetime.combine(day, self.end):
                candidates.append(second)
        return min(c for c in candidates if c > moment)

    def deliverable_at(self, where: Where, moment: datetime.datetime) -> datetime.datetime:
        """When a message due at `moment` may go out: `moment` itself outside the window, else the window's end."""
        return self.next_end(where, moment) if self.contains(where, moment) else moment


DEFAULT_QUIET_HOURS = QuietHours(datetime.time(21), datetime.time(8))  # SPEC 12
