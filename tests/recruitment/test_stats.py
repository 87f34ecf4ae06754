"""Channel statistics: visits and unique visitors counted in the cache per local day, copied into ChannelDay by
the periodic task without ever lowering a figure; joins counted in the joining transaction; conversion."""

import datetime

import pytest
import time_machine
from django.core.cache import cache

from recruitment.models import ChannelDay
from recruitment.stats import channel_daily, channel_stats_flush, channels_figures, visit_record
from recruitment.tasks import channel_stats_flush_all_shops

from .helpers import join, make_channel

# 23:30 on 20 November in Shanghai.
LATE_EVENING = datetime.datetime(2026, 11, 20, 15, 30, tzinfo=datetime.UTC)
AFTER_MIDNIGHT = datetime.datetime(2026, 11, 20, 16, 30, tzinfo=datetime.UTC)  # 00:30 on the 21st in Shanghai


def test_visits_count_every_view_and_visitors_each_cookie_once_a_day(shop):
    channel = make_channel(shop)

    for visitor in ("a", "a", "b", "a"):
        visit_record(shop=shop, channel=channel, visitor=visitor)
    join(shop, 1, channel=channel.code)

    figures = channels_figures(shop=shop, channel_ids=[channel.pk])[channel.pk]
    assert figures.as_dict() == {"visits": 4, "unique_visitors": 2, "joins": 1, "conversion": 0.5}


def test_days_follow_the_shops_time_zone(shop):
    channel = make_channel(shop)
    with time_machine.travel(LATE_EVENING, tick=False) as clock:
        visit_record(shop=shop, channel=channel, visitor="a")
        clock.move_to(AFTER_MIDNIGHT)
        visit_record(shop=shop, channel=channel, visitor="a")

        days = {day: figures.visitors for day, figures in channel_daily(shop=shop, channel=channel, days=3)}

    assert days == {datetime.date(2026, 11, 19): 0, datetime.date(2026, 11, 20): 1, datetime.date(2026, 11, 21): 1}


def test_the_flush_stores_the_counters_and_never_lowers_them(shop, other_shop):
    channel, foreign = make_channel(shop), make_channel(other_shop)
    for visitor in ("a", "b", "c"):
        visit_record(shop=shop, channel=channel, visitor=visitor)
    visit_record(shop=other_shop, channel=foreign, visitor="z")

    assert channel_stats_flush_all_shops() == 2  # one task per shop, run eagerly here
    stored = ChannelDay.objects.get(channel=channel)
    assert (stored.visits, stored.visitors) == (3, 3)
    assert ChannelDay.objects.get(channel=foreign).visits == 1

    cache.clear()  # the cache restarted: its counters begin again from zero
    visit_record(shop=shop, channel=channel, visitor="d")
    channel_stats_flush(shop=shop)

    stored.refresh_from_db()
    assert (stored.visits, stored.visitors) == (3, 3)
    assert channels_figures(shop=shop, channel_ids=[channel.pk])[channel.pk].visits == 3


def test_figures_add_stored_days_to_the_live_ones(shop):
    channel = make_channel(shop)
    with time_machine.travel(LATE_EVENING - datetime.timedelta(days=5), tick=False):
        for visitor in ("a", "b"):
            visit_record(shop=shop, channel=channel, visitor=visitor)
        channel_stats_flush(shop=shop)
        join(shop, 1, channel=channel.code)
    cache.clear()
    with time_machine.travel(LATE_EVENING, tick=False):
        visit_record(shop=shop, channel=channel, visitor="a")
        figures = channels_figures(shop=shop, channel_ids=[channel.pk])[channel.pk]

    assert (figures.visits, figures.visitors, figures.joins) == (3, 3, 1)
    assert figures.conversion == pytest.approx(1 / 3)


def test_a_channel_nobody_visited_has_no_conversion(shop):
    channel = make_channel(shop)
    assert channels_figures(shop=shop, channel_ids=[channel.pk])[channel.pk].as_dict() == {
        "visits": 0,
        "unique_visitors": 0,
        "joins": 0,
        "conversion": None,
    }
