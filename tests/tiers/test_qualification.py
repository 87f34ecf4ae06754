"""Which rank a member qualifies for: thresholds combined with AND / OR over each window, as the upgrade after an
order and the full evaluation compute it (one SQL engine, two entry points)."""

from datetime import timedelta

import pytest
import time_machine

from shops.services import SYSTEM
from tiers.evaluation import tiers_evaluate
from tiers.models import ChangeReason, TierChange
from tiers.services import tier_ladder_apply

from .helpers import buy, enrol, ladder, rank_of, utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 6, 15, 4)  # 12:00 in Shanghai
# 23:30 on 31 December 2025 in Shanghai, and 00:30 on 1 January 2026 there (still 31 December in UTC).
LAST_YEAR_LATE = utc(2025, 12, 31, 15, 30)
NEW_YEAR_EARLY = utc(2025, 12, 31, 16, 30)
LONG_AGO = NOW - timedelta(days=500)
RECENTLY = NOW - timedelta(days=30)


def _ladder(window: str, *, manual_only: bool = False) -> list[dict]:
    silver = {"name": "银卡", "min_spend": "100", "min_orders": 3, "combine": "any", "window": window}
    gold = {"name": "金卡", "min_spend": "500", "min_orders": 2, "combine": "all", "window": window}
    if manual_only:  # the same ranks, no thresholds: orders upgrade nobody
        silver = {"name": "银卡"}
        gold = {"name": "金卡"}
    return ladder(silver, gold)


# member: orders (amount, paid_at) -> expected rank per window
CASES = {
    "spend alone (any)": ([(120, RECENTLY)], {"lifetime": 1, "12m": 1, "year": 1}),
    "orders alone (any)": ([(10, RECENTLY)] * 3, {"lifetime": 1, "12m": 1, "year": 1}),
    "spend and orders (all)": ([(300, RECENTLY), (250, RECENTLY)], {"lifetime": 2, "12m": 2, "year": 2}),
    "spend without orders (all fails)": ([(600, RECENTLY)], {"lifetime": 1, "12m": 1, "year": 1}),
    "long ago": ([(300, LONG_AGO), (300, LONG_AGO)], {"lifetime": 2, "12m": 0, "year": 0}),
    "last year, late evening in Shanghai": ([(150, LAST_YEAR_LATE)], {"lifetime": 1, "12m": 1, "year": 0}),
    "new year, early morning in Shanghai": ([(150, NEW_YEAR_EARLY)], {"lifetime": 1, "12m": 1, "year": 1}),
    "nothing": ([], {"lifetime": 0, "12m": 0, "year": 0}),
}


@pytest.mark.parametrize("window", ["lifetime", "12m", "year"])
def test_an_order_upgrades_at_once_to_the_highest_rank_qualified_for(shop, window):
    with time_machine.travel(NOW, tick=False):
        tier_ladder_apply(shop=shop, ladder=_ladder(window), actor=SYSTEM)
        members = {}
        for name, (orders, _expected) in CASES.items():
            members[name] = enrol(shop, name)
            for amount, paid_at in orders:
                buy(shop, members[name], amount, paid_at)
        ranks = {name: rank_of(member) for name, member in members.items()}
        # and the periodic evaluation agrees: it changes nothing
        evaluation = tiers_evaluate(shop=shop)
    assert ranks == {name: expected[window] for name, (_orders, expected) in CASES.items()}
    assert (evaluation.upgraded, evaluation.downgraded, evaluation.members_checked) == (0, 0, len(CASES))


@pytest.mark.parametrize("window", ["lifetime", "12m", "year"])
def test_the_full_evaluation_qualifies_members_by_the_same_rules(shop, window):
    # given: orders recorded while the tiers had no thresholds (nobody upgraded)
    with time_machine.travel(NOW, tick=False):
        tier_ladder_apply(shop=shop, ladder=_ladder(window, manual_only=True), actor=SYSTEM)
        members = {}
        for name, (orders, _expected) in CASES.items():
            members[name] = enrol(shop, name)
            for amount, paid_at in orders:
                buy(shop, members[name], amount, paid_at)
        assert {rank_of(m) for m in members.values()} == {0}
        # when: the thresholds are set (the change runs a full evaluation)
        applied = tier_ladder_apply(shop=shop, ladder=_ladder(window), actor=SYSTEM)
    # then
    expected = {name: e[window] for name, (_orders, e) in CASES.items()}
    assert {name: rank_of(member) for name, member in members.items()} == expected
    assert applied.evaluation.upgraded == sum(1 for rank in expected.values() if rank)
    history = TierChange.objects.filter(shop=shop)
    assert sorted(history.values_list("reason", flat=True)) == [ChangeReason.UPGRADE] * applied.evaluation.upgraded
    assert all(change.changed_at == NOW and change.from_tier_id is None for change in history)


def test_a_tier_without_thresholds_is_never_reached_automatically(shop):
    with time_machine.travel(NOW, tick=False):
        tier_ladder_apply(
            shop=shop,
            ladder=ladder({"name": "员工", "min_spend": None}, {"name": "金卡", "min_spend": "100"}),
            actor=SYSTEM,
        )
        rich, modest = enrol(shop), enrol(shop)
        buy(shop, rich, 5000, RECENTLY)
        tiers_evaluate(shop=shop)
        assert (rank_of(rich), rank_of(modest)) == (2, 0)


def test_refunds_and_cancelled_orders_do_not_count(shop):
    from orders.services import order_change_status

    from .helpers import refund

    with time_machine.travel(NOW, tick=False):
        member = enrol(shop)
        cancelled = buy(shop, member, 400, RECENTLY)
        order_change_status(shop=shop, order=cancelled, status="cancelled")
        refunded = buy(shop, member, 450, RECENTLY)
        refund(shop, refunded, 100)
        assert rank_of(member) == 0  # 350 counted: below 500
        buy(shop, member, 150, RECENTLY)
        assert rank_of(member) == 1  # 350 + 150
