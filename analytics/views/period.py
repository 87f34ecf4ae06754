"""The period a page shows, from its GET parameters: `range` a preset (7, 30 or 90 days, this month, last month)
or `from` and `to` (ISO dates, shop time); `grain` day, week or month. Days count in the shop's time zone and the
rollups hold whole days up to yesterday, so presets end yesterday. A bad period is a message and the default,
never an error page."""

import datetime
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..apis import MAX_DAYS
from ..selectors import previous_period
from ..trends import GRAINS, default_grain

PRESETS = {
    "7": gettext_lazy("Last 7 days"),
    "30": gettext_lazy("Last 30 days"),
    "90": gettext_lazy("Last 90 days"),
    "this_month": gettext_lazy("This month"),
    "last_month": gettext_lazy("Last month"),
}
DEFAULT = "30"
EARLIEST = datetime.date(2000, 1, 1)


@dataclass(frozen=True)
class Period:
    first: datetime.date
    last: datetime.date
    preset: str  # a PRESETS key, or "" for dates given
    grain: str

    @property
    def previous(self) -> tuple[datetime.date, datetime.date]:
        return previous_period(self.first, self.last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def preset_range(preset: str, today: datetime.date) -> tuple[datetime.date, datetime.date]:
    yesterday = today - datetime.timedelta(days=1)
    if preset == "this_month":
        first = today.replace(day=1)
        return first, max(first, yesterday)
    if preset == "last_month":
        last = today.replace(day=1) - datetime.timedelta(days=1)
        return last.replace(day=1), last
    return yesterday - datetime.timedelta(days=int(preset) - 1), yesterday


def _date(text: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        return None


def period_from(params, *, today: datetime.date) -> tuple[Period, str | None]:
    """The period asked for, and an error message when the dates were refused (the default period is used)."""
    error = None
    preset = params.get("range", "")
    raw_first, raw_last = params.get("from", ""), params.get("to", "")
    if preset not in PRESETS and (raw_first or raw_last):
        first, last = _date(raw_first), _date(raw_last)
        if first is None or last is None:
            error = _("Give both dates as YYYY-MM-DD.")
        elif last < first:
            error = _("The period ends before it starts.")
        elif (last - first).days + 1 > MAX_DAYS:
            error = _("A period is at most %(days)s days.") % {"days": MAX_DAYS}
        elif first < EARLIEST or last > today:
            error = _("Give dates from 2000 up to today.")
        else:
            grain = params.get("grain") if params.get("grain") in GRAINS else default_grain(first, last)
            return Period(first, last, "", grain), None
        preset = DEFAULT
    if preset not in PRESETS:
        preset = DEFAULT
    first, last = preset_range(preset, today)
    grain = params.get("grain") if params.get("grain") in GRAINS else default_grain(first, last)
    return Period(first, last, preset, grain), error
