"""Numbers in the merchant's conventions, chart scales and trend buckets: pure functions, exact values."""

import datetime
from decimal import Decimal

import pytest
from django.utils import translation

from analytics.charts import Series, heat_map, line_chart, nice_top
from analytics.formatting import change, format_money, format_number, format_percent
from analytics.trends import buckets


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [(0, "0", "0"), (9_999, "9,999", "9,999"), (12_345, "1.23万", "12,345"), (100_000, "10万", "100,000"),
     (-25_000, "-2.5万", "-25,000"), (123_456_789, "1.23亿", "123,456,789"), (None, "–", "–")],
)  # fmt: skip
def test_numbers_in_each_language(value, zh, en):
    with translation.override("zh-hans"):
        assert format_number(value) == zh
    with translation.override("en"):
        assert format_number(value) == en


def test_money_percent_and_change():
    with translation.override("zh-hans"):
        assert format_money(Decimal("1234.5")) == "¥1,234.50"
        assert format_money(Decimal("98100.00")) == "¥9.81万"
        assert format_money(Decimal("-20")) == "-¥20.00"
    with translation.override("en"):
        assert format_money(Decimal("98100.00"), "USD") == "$98,100.00"
    assert format_percent(0.90625) == "90.6%" and format_percent(None) == "–"
    assert change(110, 100) == {"rate": 0.1, "text": "+10.0%", "sign": "up"}
    assert change(90, 100)["text"] == "−10.0%" and change(90, 100)["sign"] == "down"
    assert change(5, 0)["rate"] is None


def test_axis_scales_are_round():
    assert nice_top(0) == (1.0, 0.25)
    assert nice_top(7) == (8.0, 2.0)
    assert nice_top(Decimal("27300")) == (30000.0, 10000.0)


def test_buckets_are_calendar_weeks_and_months_clipped_to_the_period():
    first, last = datetime.date(2026, 11, 4), datetime.date(2026, 12, 2)  # a Wednesday to a Wednesday
    weeks = buckets(first, last, "week")
    assert (weeks[0].first, weeks[0].last) == (first, datetime.date(2026, 11, 8))  # to Sunday
    assert (weeks[-1].first, weeks[-1].last) == (datetime.date(2026, 11, 30), last)
    assert len(weeks) == 5
    months = buckets(first, last, "month")
    assert [(m.first, m.last) for m in months] == [
        (first, datetime.date(2026, 11, 30)), (datetime.date(2026, 12, 1), last)
    ]  # fmt: skip
    assert len(buckets(first, last, "day")) == 29


def test_the_charts_escape_their_text_and_draw_both_periods():
    svg = line_chart(labels=["<a>", "b"], series=[Series("x", [1, 2]), Series("y", [2, None], "previous")],
                     label="<script>")  # fmt: skip
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'class="line current"' in svg and 'class="dot previous"' in svg  # one point left: a dot
    grid = heat_map(rows=["Mon"], columns=["11/2", "11/9"], values=[[None, 5]], label="h")
    assert grid.count('class="cell"') == 1 and 'fill-opacity="1.00"' in grid
