"""Changing the tier rules: validation, preview, applying (now or on a date), removing ranks."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine

from shops.models import AuditLogEntry
from shops.services import Actor
from tiers.errors import InvalidLadder
from tiers.evaluation import tier_policy_preview
from tiers.models import Tier, TierChange, TierSchedule
from tiers.rules import RETIRED_RANK
from tiers.selectors import tier_distribution, tiers_of_shop
from tiers.services import (
    tier_assign,
    tier_ladder_apply,
    tier_ladder_schedule,
    tier_ladder_validate,
    tier_schedules_apply_due,
)

from .helpers import buy, enrol, ladder, rank_of, tier, utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 5, 20, 2)
STAFF = Actor(label="owner@shop-a.example")


def _ladder_state(shop) -> list:
    return list(Tier.objects.filter(shop=shop).order_by("rank").values())


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ([], "tiers"),
        ("not a list", "tiers"),
        (ladder({"name": "A"}) + [{"rank": 3, "name": "C"}], "rank"),
        ([{"rank": 0, "name": "A"}, {"rank": 0, "name": "B"}], "rank"),
        ([{"rank": 1, "name": "A"}], "rank"),
        ([{"rank": 0, "name": "A", "min_spend": "10"}], "min_spend"),
        (ladder({"name": "普通会员"}), "name"),
        (ladder({"name": "vip"}, {"name": "VIP"}), "name"),
        (ladder({"name": "   "}), "name"),
        (ladder({"name": "A" * 41}), "name"),
        (ladder({"name": "A", "min_spend": "-1"}), "min_spend"),
        (ladder({"name": "A", "min_spend": "abc"}), "min_spend"),
        (ladder({"name": "A", "min_spend": "1.234"}), "min_spend"),
        (ladder({"name": "A", "min_spend": "NaN"}), "min_spend"),
        (ladder({"name": "A", "min_orders": 1.5}), "min_orders"),
        (ladder({"name": "A", "min_orders": -2}), "min_orders"),
        (ladder({"name": "A", "min_growth": True}), "min_growth"),
        (ladder({"name": "A", "min_growth": 10**12 + 1}), "min_growth"),  # MAX_POINTS, as every growth input
        (ladder({"name": "A", "discount_rate": "0"}), "discount_rate"),
        (ladder({"name": "A", "discount_rate": "1.01"}), "discount_rate"),
        (ladder({"name": "A", "points_multiplier": "21"}), "points_multiplier"),
        (ladder({"name": "A", "window": "week"}), "window"),
        (ladder({"name": "A", "combine": "xor"}), "combine"),
        (ladder({"name": "A", "retention_months": -1}), "retention_months"),
        (ladder({"name": "A", "retention_months": 121}), "retention_months"),
        (ladder({"name": "A", "free_shipping": "yes"}), "free_shipping"),
        (ladder({"name": "A", "colour": "gold"}), "colour"),
        ([{"rank": 0, "name": "A"}, "B"], ""),
    ],
)
def test_a_bad_ladder_is_refused_naming_the_tier_and_field_and_nothing_changes(shop, bad, field):
    before, audits = _ladder_state(shop), AuditLogEntry.objects.count()
    with pytest.raises(InvalidLadder) as refused:
        tier_ladder_apply(shop=shop, ladder=bad, actor=STAFF)
    assert refused.value.code == "invalid_ladder"
    assert refused.value.details["field"] == field
    assert str(refused.value.message)
    with pytest.raises(InvalidLadder):
        tier_ladder_schedule(shop=shop, ladder=bad, effective_on=date(2030, 1, 1), actor=STAFF)
    with pytest.raises(InvalidLadder):
        tier_policy_preview(shop=shop, ladder=bad)
    assert _ladder_state(shop) == before
    assert AuditLogEntry.objects.count() == audits
    assert not TierSchedule.objects.exists()


def test_validation_names_the_tier_by_its_place_rank_and_name(shop):
    with pytest.raises(InvalidLadder) as refused:
        tier_ladder_validate(ladder({"name": "银卡"}, {"name": "金卡", "min_spend": "-5"}))
    assert refused.value.details == {"index": 2, "rank": 2, "name": "金卡", "field": "min_spend", "value": "-5"}


def test_validation_converts_and_fills_in_defaults():
    cleaned = tier_ladder_validate(
        [{"rank": "1", "name": " 银卡 ", "min_spend": 500, "min_orders": "3"}, {"rank": 0, "name": "普通"}]
    )
    assert [t["rank"] for t in cleaned] == [0, 1]
    assert cleaned[1] | {} == {
        "rank": 1,
        "name": "银卡",
        "min_spend": Decimal(500),
        "min_orders": 3,
        "min_growth": None,
        "combine": "all",
        "window": "12m",
        "retention_months": 12,
        "discount_rate": Decimal(1),
        "points_multiplier": Decimal(1),
        "free_shipping": False,
        "priority_shipping": False,
        "dedicated_service": False,
        "description": "",
    }


def _shop_with_members(shop) -> dict:
    """Members spread over the default ladder; one whose retention ended; one assigned by hand for good."""
    members = {}
    with time_machine.travel(NOW - timedelta(days=400), tick=False):
        members["lapsed"] = enrol(shop, "lapsed")
        buy(shop, members["lapsed"], 700, NOW - timedelta(days=400))  # 高级会员 until 13 months ago + 12
    with time_machine.travel(NOW, tick=False):
        for name, orders in {
            "none": [],
            "small": [100],
            "silver": [600],
            "silver+": [1500],
            "vip": [500] * 5,
            "rich once": [2500],
            "top": [6000],
            "top again": [3000, 3000],
        }.items():
            members[name] = enrol(shop, name)
            for amount in orders:
                buy(shop, members[name], amount, NOW - timedelta(days=10))
        members["manual"] = enrol(shop, "manual")
        tier_assign(shop=shop, member=members["manual"], tier=tier(shop, 3), actor=STAFF)
    return members


NEW_LADDER = ladder(
    {"name": "高级会员", "min_spend": "1000"},
    {"name": "VIP会员", "min_spend": "2000", "min_orders": 3, "combine": "any", "discount_rate": "0.9"},
)


def test_the_preview_counts_what_applying_then_does(shop, other_shop):
    members = _shop_with_members(shop)
    with time_machine.travel(NOW, tick=False):
        before = {name: rank_of(m) for name, m in members.items()}
        preview = tier_policy_preview(shop=shop, ladder=NEW_LADDER)
        assert _ladder_state(shop)[3]["name"] == "至尊VIP"  # nothing written
        applied = tier_ladder_apply(shop=shop, ladder=NEW_LADDER, actor=STAFF)
        after = {name: rank_of(m) for name, m in members.items()}
    assert before == {
        "lapsed": 1,
        "none": 0,
        "small": 0,
        "silver": 1,
        "silver+": 1,
        "vip": 2,
        "rich once": 1,
        "top": 3,
        "top again": 3,
        "manual": 3,
    }
    # the removed rank's members go to what they qualify for; the lapsed member is lowered; the rest keep their
    # tier for its retention period, or are upgraded (rich once: 2500 now reaches VIP会员 by spend alone)
    assert after == {
        "lapsed": 0,
        "none": 0,
        "small": 0,
        "silver": 1,
        "silver+": 1,
        "vip": 2,
        "rich once": 2,
        "top": 2,
        "top again": 2,
        "manual": 0,
    }
    assert preview["up"] == sum(1 for n in members if after[n] > before[n]) == 1
    assert preview["down"] == sum(1 for n in members if after[n] < before[n]) == 4
    assert preview["members"] == len(members)
    assert [(t["rank"], t["before"], t["after"]) for t in preview["tiers"]] == [(0, 2, 4), (1, 4, 2), (2, 1, 4)]
    assert preview["removed"] == [{"rank": 3, "name": "至尊VIP", "members": 3, "points_before": 12000}]
    assert [(t.name, n) for t, n in tier_distribution(shop=shop)] == [(t["name"], t["after"]) for t in preview["tiers"]]
    assert applied.moved == 3
    assert (applied.evaluation.upgraded, applied.evaluation.downgraded) == (1, 1)
    # the other shop keeps its ladder
    assert [t.name for t in tiers_of_shop(shop=other_shop)] == ["普通会员", "高级会员", "VIP会员", "至尊VIP"]


def test_removing_ranks_moves_their_members_with_reason_policy_and_keeps_the_history_readable(shop):
    members = _shop_with_members(shop)
    vip_tier, top_tier = tier(shop, 2), tier(shop, 3)
    with time_machine.travel(NOW, tick=False):
        applied = tier_ladder_apply(shop=shop, ladder=ladder({"name": "高级会员", "min_spend": "500"}), actor=STAFF)
    policy = TierChange.objects.filter(shop=shop, reason="policy")
    assert sorted((c.member.name, c.from_tier.name, c.to_tier_id and c.to_tier.rank) for c in policy) == [
        ("manual", "至尊VIP", None),
        ("top", "至尊VIP", 1),
        ("top again", "至尊VIP", 1),
        ("vip", "VIP会员", 1),
    ]
    assert set(policy.values_list("actor", flat=True)) == {STAFF.label}
    assert applied.moved == 4
    assert (rank_of(members["vip"]), rank_of(members["top"]), rank_of(members["manual"])) == (1, 1, 0)
    members["top"].refresh_from_db()
    assert members["top"].tier_until == utc(2027, 5, 20, 2)  # the retention of the tier moved to, from now
    # the ladder is ranks 0..1; the removed tiers, which history names, are kept outside it under their names
    assert [t.name for t in tiers_of_shop(shop=shop)] == ["普通会员", "高级会员"]
    vip_tier.refresh_from_db()
    top_tier.refresh_from_db()
    assert (vip_tier.name, top_tier.name) == ("VIP会员", "至尊VIP")
    assert RETIRED_RANK <= vip_tier.rank < top_tier.rank
    audit = AuditLogEntry.objects.get(shop=shop, action="tiers.change")
    assert audit.actor_label == STAFF.label
    assert (audit.changes["2"], audit.changes["3"]) == (["VIP会员", ""], ["至尊VIP", ""])
    assert audit.changes["members_moved"] == ["", "4"]
    # a later ladder may use a removed tier's name again: the retired tier takes its id into its name
    with time_machine.travel(NOW, tick=False):
        tier_ladder_apply(
            shop=shop,
            ladder=ladder({"name": "高级会员", "min_spend": "500"}, {"name": "至尊VIP", "min_spend": "5000"}),
            actor=STAFF,
        )
    top_tier.refresh_from_db()
    assert top_tier.name == f"至尊VIP #{top_tier.pk}"
    assert [t.name for t in tiers_of_shop(shop=shop)] == ["普通会员", "高级会员", "至尊VIP"]
    assert rank_of(members["top"]) == 2  # 6000 in 12 months


def test_a_removed_rank_nobody_ever_held_is_deleted(shop):
    top = tier(shop, 3)
    with time_machine.travel(NOW, tick=False):
        tier_ladder_apply(shop=shop, ladder=ladder({"name": "高级会员"}, {"name": "VIP会员"}), actor=STAFF)
    assert not Tier.objects.filter(pk=top.pk).exists()


def test_tiers_may_swap_names(shop):
    with time_machine.travel(NOW, tick=False):
        tier_ladder_apply(
            shop=shop,
            ladder=ladder(
                {"name": "VIP会员", "min_spend": "500"},
                {"name": "高级会员", "min_spend": "2000"},
                {"name": "至尊VIP", "min_spend": "5000"},
            ),
            actor=STAFF,
        )
    assert [t.name for t in tiers_of_shop(shop=shop)] == ["普通会员", "VIP会员", "高级会员", "至尊VIP"]


def test_applying_the_ladder_the_shop_has_changes_nothing(shop):
    current = [{k: v for k, v in t.items() if k not in ("id", "shop_id")} for t in _ladder_state(shop)]
    with time_machine.travel(NOW, tick=False):
        applied = tier_ladder_apply(shop=shop, ladder=current, actor=STAFF)
    assert applied.evaluation is None
    assert not AuditLogEntry.objects.filter(action="tiers.change").exists()


def test_a_change_scheduled_for_later_applies_on_its_date_once(shop):
    with time_machine.travel(NOW, tick=False):  # 20 May in Shanghai
        schedule = tier_ladder_schedule(shop=shop, ladder=NEW_LADDER, effective_on=date(2026, 6, 1), actor=STAFF)
    assert schedule.applied_at is None
    assert schedule.ladder[1]["min_spend"] == "1000"
    assert len(tiers_of_shop(shop=shop)) == 4
    assert AuditLogEntry.objects.get(action="tiers.schedule").changes == {"effective_on": ["", "2026-06-01"]}
    with time_machine.travel(utc(2026, 5, 31, 20), tick=False):
        assert tier_schedules_apply_due(shop=shop, today=date(2026, 5, 31)) == []
        assert tier_schedules_apply_due(shop=shop, today=date(2026, 6, 1)) == [schedule]
        assert tier_schedules_apply_due(shop=shop, today=date(2026, 6, 1)) == []
    schedule.refresh_from_db()
    assert schedule.applied_at == utc(2026, 5, 31, 20)
    assert [(t.name, t.min_spend) for t in tiers_of_shop(shop=shop)] == [
        ("普通会员", None),
        ("高级会员", Decimal("1000.00")),
        ("VIP会员", Decimal("2000.00")),
    ]
    audit = AuditLogEntry.objects.get(action="tiers.change")
    assert audit.actor_label == f"schedule #{schedule.pk} ({STAFF.label})"


def test_a_change_scheduled_for_today_in_the_shops_time_zone_applies_at_once(shop):
    with time_machine.travel(utc(2026, 5, 31, 17), tick=False):  # already 1 June in Shanghai
        schedule = tier_ladder_schedule(shop=shop, ladder=NEW_LADDER, effective_on=date(2026, 6, 1), actor=STAFF)
    assert schedule.applied_at == utc(2026, 5, 31, 17)
    assert len(tiers_of_shop(shop=shop)) == 3


def test_a_preview_for_a_later_date_sees_retention_periods_ending_by_then(shop):
    with time_machine.travel(NOW, tick=False):
        member = enrol(shop)
        buy(shop, member, 600, NOW - timedelta(days=300))
    current = [{k: v for k, v in t.items() if k not in ("id", "shop_id")} for t in _ladder_state(shop)]
    with time_machine.travel(NOW, tick=False):
        assert tier_policy_preview(shop=shop, ladder=current)["down"] == 0
        later = tier_policy_preview(shop=shop, ladder=current, on=date(2027, 6, 1))
    assert (later["on"], later["down"]) == (date(2027, 6, 1), 1)
