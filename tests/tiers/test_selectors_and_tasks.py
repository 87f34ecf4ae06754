from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.utils import translation

from members.services import member_erase
from shops.services import SYSTEM
from tiers.models import EvaluationMode, TierEvaluation, TierSchedule
from tiers.selectors import tier_changes_of_member, tier_distribution, tier_of_member, tier_progress
from tiers.services import tier_assign, tier_ladder_apply, tier_ladder_schedule
from tiers.tasks import tiers_daily_all_shops, tiers_evaluate_shop

from .helpers import buy, enrol, ladder, tier, utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 8, 3, 4)


def test_progress_says_what_is_missing_and_by_when_for_a_calendar_year_tier(shop):
    with time_machine.travel(NOW, tick=False):
        tier_ladder_apply(
            shop=shop,
            actor=SYSTEM,
            ladder=ladder(
                {"name": "高级会员", "min_spend": "500", "window": "year"},
                {"name": "VIP会员", "min_spend": "2000", "window": "year"},
            ),
        )
        member = enrol(shop)
        buy(shop, member, 1620, NOW - timedelta(days=10))
        buy(shop, member, 900, utc(2025, 12, 20))  # last year: does not count
        member.refresh_from_db()
        with translation.override("en"):
            progress = tier_progress(shop=shop, member=member)
    assert progress["tier"] == tier(shop, 2)
    assert progress["figures"]["spend"] == Decimal("1620.00")
    assert progress["missing"] == {"spend": Decimal("380.00")}
    assert progress["deadline"].isoformat() == "2026-12-31"
    assert progress["message"] == "Spend ¥380.00 more by 2026-12-31 to reach VIP会员"


def test_progress_lists_each_missing_threshold_and_is_none_at_the_top(shop):
    with time_machine.travel(NOW, tick=False):
        member, top = enrol(shop), enrol(shop)
        buy(shop, member, 600, NOW)
        buy(shop, top, 6000, NOW)
        member.refresh_from_db()
        top.refresh_from_db()
        with translation.override("en"):
            progress = tier_progress(shop=shop, member=member)
        assert tier_progress(shop=shop, member=top) is None
    assert progress["missing"] == {"spend": Decimal("1400.00"), "orders": 4}
    assert progress["deadline"] is None
    assert progress["message"] == "Spend ¥1,400.00 more and place 4 more orders to reach VIP会员"


def test_tier_reads(shop, other_shop, django_assert_num_queries):
    with time_machine.travel(NOW, tick=False):
        plain, silver, gone = enrol(shop), enrol(shop), enrol(shop)
        enrol(other_shop)
        buy(shop, silver, 600, NOW)
        buy(shop, gone, 600, NOW)
        member_erase(shop=shop, member=gone, actor=SYSTEM)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        tier_assign(shop=shop, member=silver, tier=tier(shop, 2), actor=SYSTEM)
    silver.refresh_from_db()
    assert tier_of_member(shop=shop, member=plain) == tier(shop, 0)
    assert tier_of_member(shop=shop, member=silver) == tier(shop, 2)
    assert [c.reason for c in tier_changes_of_member(shop=shop, member=silver)] == ["manual", "upgrade"]
    assert list(tier_changes_of_member(shop=other_shop, member=silver)) == []
    with django_assert_num_queries(2):
        distribution = tier_distribution(shop=shop)
    assert [(t.rank, n) for t, n in distribution] == [(0, 1), (1, 0), (2, 1), (3, 0)]


def test_the_daily_task_applies_due_changes_then_evaluates_each_shop(shop, other_shop):
    with time_machine.travel(NOW, tick=False):
        tier_ladder_schedule(
            shop=shop,
            ladder=ladder({"name": "高级会员", "min_spend": "100"}),
            effective_on=(NOW + timedelta(days=1)).date(),
            actor=SYSTEM,
        )
        member = enrol(shop)
        buy(shop, member, 150, NOW)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        assert tiers_daily_all_shops.delay().get() == 2
        assert tiers_daily_all_shops.delay().get() == 2  # again: nothing applied twice
    assert TierSchedule.objects.get(shop=shop).applied_at == NOW + timedelta(days=1)
    member.refresh_from_db()
    assert member.tier == tier(shop, 1)
    runs = TierEvaluation.objects.order_by("pk")
    # shop: the change's full run, then two incremental runs; other shop: a first (full) run, then incremental
    assert sorted((e.shop_id, e.mode) for e in runs) == sorted(
        [
            (shop.pk, EvaluationMode.FULL),
            (shop.pk, EvaluationMode.INCREMENTAL),
            (shop.pk, EvaluationMode.INCREMENTAL),
            (other_shop.pk, EvaluationMode.FULL),
            (other_shop.pk, EvaluationMode.INCREMENTAL),
        ]
    )


def test_the_evaluation_task_and_its_schedule(shop):
    with time_machine.travel(NOW, tick=False):
        evaluation_id = tiers_evaluate_shop.delay(shop.pk, EvaluationMode.FULL).get()
    assert TierEvaluation.objects.get(pk=evaluation_id).shop == shop
    entry = settings.CELERY_BEAT_SCHEDULE["tiers-daily"]
    assert entry["task"] == "tiers.tasks.tiers_daily_all_shops"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({20}, {10})
