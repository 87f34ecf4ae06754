"""Joins by channel with conversion from visits, and the tier distribution over time, from hand-made day rows (the
rollups and recruitment's channel counters are the inputs: their own computation is tested where it is made)."""

import datetime

import pytest

from analytics.breakdowns import joins_by_channel, tier_distribution
from analytics.models import JoinDay, TierDay
from recruitment.models import ChannelDay
from tests.recruitment.helpers import make_channel
from tiers.models import Tier

pytestmark = pytest.mark.django_db

D1, D2 = datetime.date(2026, 11, 10), datetime.date(2026, 11, 11)


def test_joins_by_channel_and_conversion_from_unique_visitors(shop, other_shop):
    counter = make_channel(shop)
    JoinDay.objects.create(shop=shop, day=D1, channel=counter.code.lower(), joins=4)  # codes match case-blind
    JoinDay.objects.create(shop=shop, day=D2, channel="", joins=2)
    ChannelDay.objects.create(shop=shop, channel=counter, day=D1, visits=50, visitors=40, joins=4)
    ChannelDay.objects.create(shop=shop, channel=counter, day=D2, visits=30, visitors=10, joins=1)
    ChannelDay.objects.create(shop=shop, channel=counter, day=D2 + datetime.timedelta(days=1), visits=99, visitors=99)
    fields = ("channel", "joins", "visits", "visitors", "channel_joins", "conversion")
    rows = [tuple(r[f] for f in fields) for r in joins_by_channel(shop=shop, first=D1, last=D2)]
    assert rows == [
        (counter.name, 4, 80, 50, 5, 0.1),  # 5 joins from 50 unique visitors
        (None, 2, None, None, None, None),
    ]  # fmt: skip
    assert joins_by_channel(shop=other_shop, first=D1, last=D2) == []


def test_tier_distribution_at_each_days_end_with_upgrades_and_downgrades(shop):
    base, second = Tier.objects.filter(shop=shop).order_by("rank")[:2]
    JoinDay.objects.create(shop=shop, day=D1 - datetime.timedelta(days=5), joins=2)  # before the period
    JoinDay.objects.create(shop=shop, day=D1, joins=3)
    TierDay.objects.create(shop=shop, day=D2, tier=second, entered=2, upgrades=2)
    TierDay.objects.create(shop=shop, day=D2, tier=None, left=2)  # the base tier, NULL in TierDay
    TierDay.objects.create(shop=shop, day=D2, tier=None, entered=1, downgrades=1)
    TierDay.objects.create(shop=shop, day=D2, tier=second, left=1)
    result = tier_distribution(shop=shop, first=D1, last=D2, grain="day")
    assert result["members"][base.pk] == [5, 4]  # 2 + 3 joined; 2 up, 1 back down
    assert result["members"][second.pk] == [0, 1]
    assert (result["upgrades"], result["downgrades"]) == ([0, 2], [0, 1])
