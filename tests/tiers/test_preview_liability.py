"""The policy preview's effect on points liability: the points a year like the last one would earn under the current
and the proposed ladder, and the balances of the members who would move, from the preview's one statement."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from points.services import points_earn
from shops.services import Actor
from tiers.evaluation import tier_policy_preview
from tiers.services import tier_ladder_apply

from .helpers import buy, enrol, ladder, rank_of, utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 5, 20, 2)
STAFF = Actor(label="owner@shop-a.example")
# The default ladder's qualification, with points multipliers.
CURRENT = ladder(
    {"name": "高级会员", "min_spend": "500", "points_multiplier": "1.5"},
    {"name": "VIP会员", "min_spend": "2000", "min_orders": 5, "points_multiplier": "2"},
    {"name": "至尊VIP", "min_spend": "5000", "points_multiplier": "3"},
)
# Silver needs more, VIP only spend (no order count), the top rank goes.
PROPOSED = ladder(
    {"name": "高级会员", "min_spend": "1000", "points_multiplier": "1.2"},
    {"name": "VIP会员", "min_spend": "2000", "points_multiplier": "2.5"},
)


@pytest.fixture
def members(shop):
    """Orders earn 1 point a yuan (all multipliers 1 when they are recorded); then the multipliers change."""
    with time_machine.travel(NOW, tick=False):
        made = {name: enrol(shop, name) for name in ("none", "silver", "vip", "top", "two big orders")}
        points_earn(shop=shop, member=made["none"], points=100, idempotency_key="gift")
        for name, orders in {"silver": [600], "vip": [500] * 5, "top": [6000], "two big orders": [1250, 1250]}.items():
            for amount in orders:
                buy(shop, made[name], amount, NOW - timedelta(days=30))
        tier_ladder_apply(shop=shop, ladder=CURRENT, actor=STAFF)
    assert {name: rank_of(m) for name, m in made.items()} == {
        "none": 0,
        "silver": 1,
        "vip": 2,
        "top": 3,
        "two big orders": 1,
    }
    return made


def test_the_preview_reports_points_a_year_and_the_balances_that_move(shop, other_shop, members):
    # given: another shop's member, who counts nowhere here
    with time_machine.travel(NOW, tick=False):
        buy(other_shop, enrol(other_shop), 9000, NOW - timedelta(days=1))
        # when
        with CaptureQueriesContext(connection) as queries:
            preview = tier_policy_preview(shop=shop, ladder=PROPOSED)
    # then: silver keeps 高级会员 for its retention period; two big orders reach VIP会员 by spend; top moves down
    assert (preview["up"], preview["down"], preview["members"]) == (1, 1, 5)
    assert preview["spend_12m"] == Decimal("11600.00")
    assert preview["points_per_unit"] == Decimal(1)
    # now: 0 x 1 + (600 + 2500) x 1.5 + 2500 x 2 + 6000 x 3; after: 600 x 1.2 + (2500 + 2500 + 6000) x 2.5
    assert [(t["rank"], t["before"], t["after"], t["points_before"], t["points_after"]) for t in preview["tiers"]] == [
        (0, 1, 1, 0, 0),
        (1, 2, 1, 4650, 720),
        (2, 1, 3, 5000, 27500),
    ]
    assert preview["removed"] == [{"rank": 3, "name": "至尊VIP", "members": 1, "points_before": 18000}]
    assert preview["points_per_year"] == {"before": 27650, "after": 28220}
    # balances: two big orders (2500 points) move up, top (6000) moves down; 100 + 600 + 2500 + 6000 + 2500 in all
    assert preview["balance"] == {"total": 11700, "up": 2500, "down": 6000}
    # one statement over the members (the other query reads the current ladder)
    member_reads = [q["sql"] for q in queries.captured_queries if "members_member" in q["sql"]]
    assert len(member_reads) == 1
    assert "points_balance" in member_reads[0] and "spend_12m" in member_reads[0]


def test_the_points_a_year_follow_the_programs_base_rate_rounded_half_up_per_tier(shop, members):
    with time_machine.travel(NOW, tick=False):
        preview = tier_policy_preview(shop=shop, ladder=PROPOSED, points_per_unit=Decimal("0.33"))
    # before: rank 1 (600 + 2500) x 0.33 x 1.5 = 1534.5 -> 1535, rank 2 2500 x 0.33 x 2 = 1650, the removed rank
    # 6000 x 0.33 x 3 = 5940; after: rank 1 600 x 0.33 x 1.2 = 237.6 -> 238, rank 2 11000 x 0.33 x 2.5 = 9075
    assert [(t["points_before"], t["points_after"]) for t in preview["tiers"]] == [(0, 0), (1535, 238), (1650, 9075)]
    assert preview["removed"][0]["points_before"] == 5940
    assert preview["points_per_year"] == {"before": 9125, "after": 9313}


def test_a_ladder_that_changes_nothing_previews_the_same_points_and_no_moves(shop, members):
    with time_machine.travel(NOW, tick=False):
        preview = tier_policy_preview(shop=shop, ladder=CURRENT)
    assert (preview["up"], preview["down"], preview["removed"]) == (0, 0, [])
    assert preview["points_per_year"] == {"before": 27650, "after": 27650}
    assert preview["balance"] == {"total": 11700, "up": 0, "down": 0}
