"""Recording an order skips the upgrade query for buyers whose cached figures (upper bounds of every window's sums)
cannot reach a tier above theirs (tiers.evaluation._may_rise), and still upgrades those who can."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shops.services import SYSTEM
from tiers.evaluation import _may_rise
from tiers.models import Combine, Window
from tiers.rules import TierSpec
from tiers.services import tier_ladder_apply

from .helpers import buy, enrol, ladder, rank_of

SILVER, GOLD = 11, 12  # tier ids
SPECS = [
    TierSpec(0, 10, None, None, None, Combine.ALL, Window.ROLLING_12M, 12),
    TierSpec(1, SILVER, Decimal(500), None, None, Combine.ALL, Window.ROLLING_12M, 12),
    TierSpec(2, GOLD, Decimal(2000), 5, None, Combine.ALL, Window.LIFETIME, 12),
]
RANKS = {10: 0, SILVER: 1, GOLD: 2}


def _bounds(tier_id=None, spend=0, orders=0, spend_12m=0, orders_12m=0, growth=0) -> dict:
    return {
        "tier_id": tier_id,
        "lifetime_spend": Decimal(spend),
        "order_count": orders,
        "spend_12m": Decimal(spend_12m),
        "orders_12m": orders_12m,
        "growth_value": growth,
    }


def test_a_member_below_every_threshold_cannot_rise():
    assert not _may_rise(SPECS, RANKS, _bounds(spend=499, orders=4, spend_12m=499, orders_12m=4))


def test_the_rolling_window_is_bounded_by_the_12_month_figures_the_others_by_the_lifetime_ones():
    # lifetime spend reaches silver's 500, but silver counts the last 12 months only
    assert not _may_rise(SPECS, RANKS, _bounds(spend=1999, orders=9, spend_12m=499, orders_12m=9))
    assert _may_rise(SPECS, RANKS, _bounds(spend=1999, orders=9, spend_12m=500, orders_12m=9))
    # gold (lifetime) needs both thresholds (combine all)
    assert not _may_rise(SPECS, RANKS, _bounds(tier_id=SILVER, spend=2000, orders=4, spend_12m=2000, orders_12m=4))
    assert _may_rise(SPECS, RANKS, _bounds(tier_id=SILVER, spend=2000, orders=5))


def test_any_threshold_is_enough_when_combined_with_or():
    either = [SPECS[0], TierSpec(1, SILVER, Decimal(500), None, 100, Combine.ANY, Window.CALENDAR_YEAR, 12)]

    assert not _may_rise(either, RANKS, _bounds(spend=499, growth=99))
    assert _may_rise(either, RANKS, _bounds(spend=0, growth=100))


def test_the_top_tier_and_tiers_without_thresholds_are_never_reached_automatically():
    manual = [SPECS[0], TierSpec(1, SILVER, None, None, None, Combine.ALL, Window.ROLLING_12M, 12)]

    assert not _may_rise(SPECS, RANKS, _bounds(tier_id=GOLD, spend=10**6, orders=100, spend_12m=10**6))
    assert not _may_rise(manual, RANKS, _bounds(spend=10**6, orders=100, spend_12m=10**6, orders_12m=100))


@pytest.mark.django_db
def test_an_order_that_cannot_reach_a_tier_runs_no_upgrade_query_and_one_that_can_upgrades(shop):
    # given
    tier_ladder_apply(shop=shop, ladder=ladder({"name": "银卡", "min_spend": Decimal(500)}), actor=SYSTEM)
    member = enrol(shop)
    paid_at = timezone.now() - timedelta(days=1)

    # when
    with CaptureQueriesContext(connection) as small:
        buy(shop, member, 100, paid_at)
    buy(shop, member, 400, paid_at)

    # then
    assert not [q for q in small.captured_queries if "o.member_id IS NOT NULL" in q["sql"]]  # the upgrade's read
    assert rank_of(member) == 1
