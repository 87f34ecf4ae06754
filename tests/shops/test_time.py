"""Shop-local time (shops.time): days and months in a zone without daylight saving (Asia/Shanghai) and in zones
with it (Europe/Berlin, America/New_York: days of 23 and 25 hours), month ends, and quiet hours across midnight."""

import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine

from shops.time import (
    DEFAULT_QUIET_HOURS,
    QuietHours,
    add_months,
    as_local,
    day_bounds,
    day_start,
    days_bounds,
    local_date,
    local_now,
    local_today,
    month_bounds,
    shop_zone,
    wall_instant,
)

UTC = datetime.UTC
SHANGHAI = SimpleNamespace(time_zone="Asia/Shanghai")
BERLIN = SimpleNamespace(time_zone="Europe/Berlin")
NEW_YORK = SimpleNamespace(time_zone="America/New_York")
HOUR = datetime.timedelta(hours=1)


def utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


def test_the_zone_comes_from_a_shop_a_name_or_a_zone():
    assert shop_zone(SHANGHAI) == ZoneInfo("Asia/Shanghai")
    assert shop_zone("Europe/Berlin") is ZoneInfo("Europe/Berlin")
    assert shop_zone(ZoneInfo("America/New_York")) is ZoneInfo("America/New_York")


@pytest.mark.django_db
def test_a_shop_row_gives_its_zone(shop):
    shop.time_zone = "Europe/Berlin"
    assert local_date(shop, utc(2025, 6, 30, 22, 30)) == datetime.date(2025, 7, 1)
    assert shop_zone(shop) == ZoneInfo("Europe/Berlin")


def test_the_local_date_of_an_instant_turns_at_local_midnight():
    # 16:00 UTC is midnight in Shanghai (UTC+8, all year)
    assert local_date(SHANGHAI, utc(2025, 3, 1, 15, 59, 59)) == datetime.date(2025, 3, 1)
    assert local_date(SHANGHAI, utc(2025, 3, 1, 16, 0)) == datetime.date(2025, 3, 2)
    # Berlin is UTC+1 in winter, UTC+2 in summer
    assert local_date(BERLIN, utc(2025, 1, 15, 23, 0)) == datetime.date(2025, 1, 16)
    assert local_date(BERLIN, utc(2025, 7, 15, 22, 0)) == datetime.date(2025, 7, 16)
    assert local_date(BERLIN, utc(2025, 7, 15, 21, 59)) == datetime.date(2025, 7, 15)


def test_as_local_reads_the_same_instant_on_the_shops_clock():
    moment = utc(2025, 3, 1, 16, 30)
    local = as_local(SHANGHAI, moment)
    assert local == moment
    assert (local.hour, local.minute, local.utcoffset()) == (0, 30, datetime.timedelta(hours=8))


@time_machine.travel(utc(2025, 12, 31, 16, 0, 1), tick=False)
def test_now_and_today_on_the_shops_clock():
    assert local_today(SHANGHAI) == datetime.date(2026, 1, 1)
    assert local_today(NEW_YORK) == datetime.date(2025, 12, 31)
    assert local_now(SHANGHAI).replace(tzinfo=None) == datetime.datetime(2026, 1, 1, 0, 0, 1)
    assert local_today(SHANGHAI, utc(2025, 6, 1)) == datetime.date(2025, 6, 1)


def test_a_day_in_shanghai_is_24_hours_from_local_midnight():
    start, end = day_bounds(SHANGHAI, datetime.date(2025, 3, 2))
    assert (start, end) == (utc(2025, 3, 1, 16), utc(2025, 3, 2, 16))
    assert start.tzinfo is UTC and end.tzinfo is UTC


@pytest.mark.parametrize(
    ("where", "day", "start", "hours"),
    [
        (BERLIN, datetime.date(2025, 3, 30), utc(2025, 3, 29, 23), 23),  # clocks go forward at 02:00
        (BERLIN, datetime.date(2025, 10, 26), utc(2025, 10, 25, 22), 25),  # and back at 03:00
        (BERLIN, datetime.date(2025, 10, 27), utc(2025, 10, 26, 23), 24),
        (NEW_YORK, datetime.date(2025, 3, 9), utc(2025, 3, 9, 5), 23),
        (NEW_YORK, datetime.date(2025, 11, 2), utc(2025, 11, 2, 4), 25),
    ],
)
def test_a_day_on_which_the_clocks_change_lasts_23_or_25_hours(where, day, start, hours):
    bounds = day_bounds(where, day)
    assert bounds == (start, start + hours * HOUR)
    assert bounds[1] - bounds[0] == hours * HOUR  # UTC bounds: a real duration, not a wall-clock one
    assert local_date(where, bounds[1] - datetime.timedelta(microseconds=1)) == day
    assert local_date(where, bounds[1]) == day + datetime.timedelta(days=1)


def test_a_day_that_begins_in_a_gap_begins_at_the_end_of_the_gap():
    # Havana moved its clocks from 00:00 to 01:00 on 2025-03-09: the day's first instant reads 01:00 (CDT, UTC-4)
    start = day_start("America/Havana", datetime.date(2025, 3, 9))
    assert start == utc(2025, 3, 9, 5)
    assert as_local("America/Havana", start).replace(tzinfo=None) == datetime.datetime(2025, 3, 9, 1)
    assert local_date("America/Havana", start - datetime.timedelta(seconds=1)) == datetime.date(2025, 3, 8)


def test_a_wall_reading_in_a_gap_is_the_end_of_the_gap_and_a_repeated_one_its_first_occurrence():
    # New York: 2025-03-09 02:00 -> 03:00; 2025-11-02 02:00 -> 01:00
    assert wall_instant(NEW_YORK, datetime.date(2025, 3, 9), datetime.time(2, 30)) == utc(2025, 3, 9, 7)
    assert wall_instant(NEW_YORK, datetime.date(2025, 11, 2), datetime.time(1, 30)) == utc(2025, 11, 2, 5, 30)


def test_days_bounds_include_both_days_and_keep_an_open_side_open():
    assert days_bounds(SHANGHAI, datetime.date(2025, 1, 1), datetime.date(2025, 1, 31)) == (
        utc(2024, 12, 31, 16),
        utc(2025, 1, 31, 16),
    )
    assert days_bounds(SHANGHAI, None, datetime.date(2025, 1, 1)) == (None, utc(2025, 1, 1, 16))
    assert days_bounds(SHANGHAI, datetime.date(2025, 1, 1), None) == (utc(2024, 12, 31, 16), None)
    assert days_bounds(SHANGHAI, None, None) == (None, None)


@pytest.mark.parametrize(
    ("day", "first", "following"),
    [
        (datetime.date(2025, 1, 31), datetime.date(2025, 1, 1), datetime.date(2025, 2, 1)),
        (datetime.date(2025, 2, 28), datetime.date(2025, 2, 1), datetime.date(2025, 3, 1)),
        (datetime.date(2024, 2, 29), datetime.date(2024, 2, 1), datetime.date(2024, 3, 1)),
        (datetime.date(2024, 2, 1), datetime.date(2024, 2, 1), datetime.date(2024, 3, 1)),
        (datetime.date(2025, 12, 31), datetime.date(2025, 12, 1), datetime.date(2026, 1, 1)),
    ],
)
def test_month_bounds_from_the_first_to_the_first_of_the_next_month(day, first, following):
    start, end = month_bounds(SHANGHAI, day)
    assert (start, end) == (day_start(SHANGHAI, first), day_start(SHANGHAI, following))
    assert start.astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None) == datetime.datetime(
        first.year, first.month, 1
    )


def test_the_last_instant_of_a_month_belongs_to_it_and_the_next_to_the_following_month():
    start, end = month_bounds(SHANGHAI, datetime.date(2024, 2, 10))
    assert (end - start).days == 29
    assert local_date(SHANGHAI, end - datetime.timedelta(microseconds=1)) == datetime.date(2024, 2, 29)
    assert local_date(SHANGHAI, end) == datetime.date(2024, 3, 1)


def test_a_month_in_which_the_clocks_change_is_an_hour_short_or_long():
    march = month_bounds(BERLIN, datetime.date(2025, 3, 15))
    october = month_bounds(BERLIN, datetime.date(2025, 10, 1))
    assert march == (utc(2025, 2, 28, 23), utc(2025, 3, 31, 22))
    assert march[1] - march[0] == datetime.timedelta(days=31) - HOUR
    assert october[1] - october[0] == datetime.timedelta(days=31) + HOUR


def test_quiet_hours_parse_and_print():
    window = QuietHours.parse("21:00-09:00")
    assert window == QuietHours(datetime.time(21), datetime.time(9))
    assert str(window) == "21:00-09:00"
    assert str(DEFAULT_QUIET_HOURS) == "21:00-08:00"
    for bad in ("21-09", "25:00-08:00", "", "21:00"):
        with pytest.raises(ValueError):
            QuietHours.parse(bad)


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        ((2025, 5, 1, 20, 59, 59), False),
        ((2025, 5, 1, 21, 0), True),
        ((2025, 5, 1, 23, 59), True),
        ((2025, 5, 2, 0, 0), True),
        ((2025, 5, 2, 8, 59, 59), True),
        ((2025, 5, 2, 9, 0), False),
        ((2025, 5, 2, 12, 0), False),
    ],
)
def test_a_window_across_midnight_holds_the_evening_and_the_morning(local, inside):
    moment = datetime.datetime(*local, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert QuietHours.parse("21:00-09:00").contains(SHANGHAI, moment) is inside


def test_a_window_within_one_day_and_an_empty_window():
    lunch = QuietHours.parse("12:00-14:00")
    zone = ZoneInfo("Asia/Shanghai")
    assert lunch.contains(SHANGHAI, datetime.datetime(2025, 5, 1, 12, 0, tzinfo=zone))
    assert not lunch.contains(SHANGHAI, datetime.datetime(2025, 5, 1, 14, 0, tzinfo=zone))
    assert not lunch.contains(SHANGHAI, datetime.datetime(2025, 5, 1, 23, 0, tzinfo=zone))
    never = QuietHours.parse("09:00-09:00")
    assert not never.contains(SHANGHAI, datetime.datetime(2025, 5, 1, 9, 0, tzinfo=zone))


def test_the_window_is_read_on_the_shops_clock_not_the_servers():
    window = QuietHours.parse("21:00-09:00")
    moment = utc(2025, 5, 1, 14, 0)  # 22:00 in Shanghai, 16:00 in Berlin
    assert window.contains(SHANGHAI, moment)
    assert not window.contains(BERLIN, moment)


def test_the_next_end_of_a_window_across_midnight():
    window = QuietHours.parse("21:00-09:00")
    zone = ZoneInfo("Asia/Shanghai")
    nine = datetime.datetime(2025, 5, 2, 9, 0, tzinfo=zone)
    # inside, before and after midnight: the coming morning
    assert window.next_end(SHANGHAI, datetime.datetime(2025, 5, 1, 22, 0, tzinfo=zone)) == nine
    assert window.next_end(SHANGHAI, datetime.datetime(2025, 5, 2, 3, 0, tzinfo=zone)) == nine
    # outside: the end of the next window; at the end itself, the next one
    assert window.next_end(SHANGHAI, datetime.datetime(2025, 5, 2, 12, 0, tzinfo=zone)) == nine + 24 * HOUR
    assert window.next_end(SHANGHAI, nine) == nine + 24 * HOUR
    assert window.next_end(SHANGHAI, nine).tzinfo is UTC


def test_a_message_due_in_quiet_hours_goes_out_when_they_end_and_one_outside_at_once():
    window = DEFAULT_QUIET_HOURS
    zone = ZoneInfo("Asia/Shanghai")
    late = datetime.datetime(2025, 12, 31, 23, 30, tzinfo=zone)
    assert window.deliverable_at(SHANGHAI, late) == datetime.datetime(2026, 1, 1, 8, 0, tzinfo=zone)
    noon = datetime.datetime(2025, 12, 31, 12, 0, tzinfo=zone)
    assert window.deliverable_at(SHANGHAI, noon) == noon


def test_quiet_hours_over_a_night_on_which_the_clocks_change():
    window = QuietHours.parse("21:00-08:00")
    # Berlin, spring forward (02:00 -> 03:00): the night is an hour shorter in real time
    evening = wall_instant(BERLIN, datetime.date(2025, 3, 29), datetime.time(21))
    assert window.next_end(BERLIN, evening) - evening == 10 * HOUR
    # New York, fall back (02:00 -> 01:00): an hour longer
    evening = wall_instant(NEW_YORK, datetime.date(2025, 11, 1), datetime.time(21))
    assert window.next_end(NEW_YORK, evening) - evening == 12 * HOUR


def test_a_window_ending_in_a_gap_ends_when_the_gap_does():
    window = QuietHours.parse("23:00-02:30")  # New York skips 02:00-03:00 on 2025-03-09
    moment = utc(2025, 3, 9, 6)  # 01:00 EST
    assert window.contains(NEW_YORK, moment)
    end = window.next_end(NEW_YORK, moment)
    assert end == utc(2025, 3, 9, 7)  # 03:00 EDT, the first reading after 02:30
    assert not window.contains(NEW_YORK, end)
    assert window.contains(NEW_YORK, end - datetime.timedelta(seconds=1))


def test_a_window_ending_in_the_repeated_hour_ends_at_its_second_reading_when_the_first_has_passed():
    window = QuietHours.parse("23:00-01:30")  # New York shows 01:00-02:00 twice on 2025-11-02
    first_reading = utc(2025, 11, 2, 5, 30)  # 01:30 EDT
    assert window.next_end(NEW_YORK, utc(2025, 11, 2, 4)) == first_reading  # from 00:00 EDT
    # 01:10 EST, after the clocks went back: the clock reads inside the window again, until 01:30 EST
    again = utc(2025, 11, 2, 6, 10)
    assert window.contains(NEW_YORK, again)
    assert window.next_end(NEW_YORK, again) == utc(2025, 11, 2, 6, 30)


@pytest.mark.parametrize(
    ("local", "months", "expected"),
    [
        ((2025, 1, 31, 10, 0), 1, (2025, 2, 28, 10, 0)),
        ((2024, 1, 31, 10, 0), 1, (2024, 2, 29, 10, 0)),
        ((2024, 2, 29, 0, 0), 12, (2025, 2, 28, 0, 0)),
        ((2025, 12, 31, 23, 59), 1, (2026, 1, 31, 23, 59)),
        ((2025, 3, 31, 8, 0), -1, (2025, 2, 28, 8, 0)),
        ((2025, 5, 15, 8, 0), 24, (2027, 5, 15, 8, 0)),
    ],
)
def test_add_months_keeps_the_reading_and_clamps_to_the_months_last_day(local, months, expected):
    zone = ZoneInfo("Asia/Shanghai")
    moment = datetime.datetime(*local, tzinfo=zone).astimezone(UTC)
    result = add_months(SHANGHAI, moment, months)
    assert result == datetime.datetime(*expected, tzinfo=zone)
    assert result.tzinfo is zone
