"""Channel statistics, counted cheaply: a landing-page visit costs a few cache operations (Redis in production),
never a database write. Per channel and local day the cache holds the visit count and, per visitor cookie, a
marker that makes the unique-visitor count exact for the day. A periodic task (channel_stats_flush) copies the
day's counters into ChannelDay; joins are counted in ChannelDay by the joining transaction itself.

Unique visitors are unique per day: a shopper who comes back the next day counts on both days. While the cache
cannot be reached, visits are not counted (shops.cache.optional_cache): the figures are low, never an error."""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection
from django.db.models import Sum

from shops.cache import optional_cache
from shops.models import Shop
from shops.time import local_today

from .models import Channel, ChannelDay

KEEP = 3 * 24 * 3600  # counters outlive their day long enough for a late flush


def _key(shop: Shop, channel_id: int, day: datetime.date, what: str) -> str:
    return f"chs:{shop.pk}:{channel_id}:{day.isoformat()}:{what}"


def visit_record(*, shop: Shop, channel: Channel, visitor: str, now: datetime.datetime | None = None) -> None:
    """Count a visit to the channel's page, and a unique visitor the first time `visitor` (a cookie value) comes
    on the shop's local day."""
    day = local_today(shop, now)
    visits = _key(shop, channel.pk, day, "visits")
    optional_cache.add(visits, 0, timeout=KEEP)
    optional_cache.incr(visits)
    if optional_cache.add(_key(shop, channel.pk, day, f"seen:{visitor}"), 1, timeout=KEEP):
        visitors = _key(shop, channel.pk, day, "visitors")
        optional_cache.add(visitors, 0, timeout=KEEP)
        optional_cache.incr(visitors)


def _live_counts(shop: Shop, channel_ids: list[int], days: list[datetime.date]) -> dict[tuple, tuple]:
    keys = {(c, d, what): _key(shop, c, d, what) for c in channel_ids for d in days for what in ("visits", "visitors")}
    found = optional_cache.get_many(list(keys.values()))
    counts = {}
    for c in channel_ids:
        for d in days:
            visits, visitors = (found.get(keys[c, d, w], 0) for w in ("visits", "visitors"))
            if visits or visitors:
                counts[c, d] = (visits, visitors)
    return counts


def _recent_days(shop: Shop, now: datetime.datetime | None) -> list[datetime.date]:
    today = local_today(shop, now)
    return [today - datetime.timedelta(days=1), today]


def joins_count(*, shop: Shop, channel: Channel, now: datetime.datetime | None = None) -> None:
    """One more join on the channel's local day, in the caller's transaction (exact under concurrency: one upsert)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO recruitment_channelday (shop_id, channel_id, day, visits, visitors, joins) "
            "VALUES (%s, %s, %s, 0, 0, 1) ON CONFLICT (shop_id, channel_id, day) "
            "DO UPDATE SET joins = recruitment_channelday.joins + 1",
            [shop.pk, channel.pk, local_today(shop, now)],
        )


def channel_stats_flush(*, shop: Shop, now: datetime.datetime | None = None) -> int:
    """Copy yesterday's and today's cached counters of the shop's channels into ChannelDay, in one statement.
    Never lowers a stored figure (a restarted cache starts counting from zero again). Returns the rows written."""
    days = _recent_days(shop, now)
    channel_ids = list(Channel.objects.filter(shop=shop).values_list("pk", flat=True))
    counts = _live_counts(shop, channel_ids, days)
    if not counts:
        return 0
    rows = sorted(counts.items())
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    values = ", ".join(["(%s, %s, %s, %s, %s, 0)"] * len(rows))
    params = [p for (c, d), (visits, visitors) in rows for p in (shop.pk, c, d, visits, visitors)]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO recruitment_channelday (shop_id, channel_id, day, visits, visitors, joins) "  # noqa: S608
            f"VALUES {values} ON CONFLICT (shop_id, channel_id, day) DO UPDATE SET "
            f"visits = {greatest}(recruitment_channelday.visits, excluded.visits), "
            f"visitors = {greatest}(recruitment_channelday.visitors, excluded.visitors)",
            params,
        )
    return len(rows)


@dataclass
class Figures:
    visits: int = 0
    visitors: int = 0
    joins: int = 0

    @property
    def conversion(self) -> float | None:
        """Joins per unique visitor, 0..1 (None before anyone came)."""
        return min(self.joins / self.visitors, 1.0) if self.visitors else None

    def as_dict(self) -> dict:
        conversion = self.conversion
        return {
            "visits": self.visits,
            "unique_visitors": self.visitors,
            "joins": self.joins,
            "conversion": round(conversion, 4) if conversion is not None else None,
        }


def _merged_days(shop: Shop, channel_ids: list[int], since: datetime.date | None, now) -> dict:
    """{(channel id, day): Figures}: the stored days, with yesterday and today taken from the cache where it has
    counted more than was flushed."""
    rows = ChannelDay.objects.filter(shop=shop, channel_id__in=channel_ids)
    if since:
        rows = rows.filter(day__gte=since)
    days = {
        (r["channel_id"], r["day"]): Figures(r["visits"], r["visitors"], r["joins"])
        for r in rows.values("channel_id", "day", "visits", "visitors", "joins")
    }
    for key, (visits, visitors) in _live_counts(shop, channel_ids, _recent_days(shop, now)).items():
        if since and key[1] < since:
            continue
        figures = days.setdefault(key, Figures())
        figures.visits, figures.visitors = max(figures.visits, visits), max(figures.visitors, visitors)
    return days


def channels_figures(*, shop: Shop, channel_ids: list[int], now=None) -> dict[int, Figures]:
    """Each channel's figures since it began. Sums the stored days in SQL; only the two live days are merged."""
    recent = _recent_days(shop, now)
    totals = defaultdict(Figures)
    older = (
        ChannelDay.objects.filter(shop=shop, channel_id__in=channel_ids, day__lt=recent[0])
        .values("channel_id")
        .annotate(v=Sum("visits"), u=Sum("visitors"), j=Sum("joins"))
    )
    for row in older:
        totals[row["channel_id"]] = Figures(row["v"], row["u"], row["j"])
    for (channel_id, _day), figures in _merged_days(shop, channel_ids, recent[0], now).items():
        total = totals[channel_id]
        total.visits += figures.visits
        total.visitors += figures.visitors
        total.joins += figures.joins
    return {c: totals[c] for c in channel_ids}


def channel_daily(*, shop: Shop, channel: Channel, days: int = 30, now=None) -> list[tuple[datetime.date, Figures]]:
    """The channel's figures for each of the last `days` local days, oldest first (days without activity too)."""
    today = local_today(shop, now)
    since = today - datetime.timedelta(days=days - 1)
    merged = _merged_days(shop, [channel.pk], since, now)
    return [
        (day, merged.get((channel.pk, day), Figures()))
        for day in (since + datetime.timedelta(days=i) for i in range(days))
    ]
