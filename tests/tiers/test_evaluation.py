"""The periodic evaluation: retention, downgrades, renewals, manual assignments, erased members, other shops, and
the incremental run giving what a full run gives."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction

from members.models import Member
from members.services import member_erase
from orders.models import Order
from orders.services import order_change_status
from shops.models import AuditLogEntry
from shops.services import SYSTEM, Actor
from shops.time import add_months
from tiers.errors import InvalidTierAssignment, MemberErased, UnknownTier
from tiers.evaluation import tiers_evaluate, tiers_upgrade_members
from tiers.models import ChangeReason, EvaluationMode, Tier, TierChange, TierEvaluation
from tiers.services import tier_assign, tier_ladder_apply

from .helpers import buy, enrol, grow, ladder, rank_of, refund, tier, utc

pytestmark = pytest.mark.django_db

T0 = utc(2026, 3, 10, 2)  # 10:00 in Shanghai
YEAR_LATER = T0 + timedelta(days=366)  # retention (12 months) over, T0's orders out of the window


def _history(member: Member) -> list[tuple]:
    return list(
        TierChange.objects.filter(member=member)
        .order_by("changed_at", "id")
        .values_list("from_tier__rank", "to_tier__rank", "reason")
    )


def test_an_upgrade_is_kept_for_the_retention_period_then_lowered(shop):
    # given: a member who reached 高级会员 (spend >= 500 in 12 months)
    with time_machine.travel(T0, tick=False):
        member = enrol(shop)
        order = buy(shop, member, 600, T0)
    member.refresh_from_db()
    assert (member.tier, member.tier_until) == (tier(shop, 1), add_months(shop, T0, 12))
    assert member.tier_until == utc(2027, 3, 10, 2)
    # when: the order is refunded half a year later, the tier is kept
    with time_machine.travel(T0 + timedelta(days=180), tick=False):
        refund(shop, order, 600)
        evaluation = tiers_evaluate(shop=shop)
    assert rank_of(member) == 1
    assert (evaluation.upgraded, evaluation.downgraded) == (0, 0)
    # then: once the retention period is over, it is lowered to what the member qualifies for (rank 0: NULL)
    with time_machine.travel(YEAR_LATER, tick=False):
        evaluation = tiers_evaluate(shop=shop)
    member.refresh_from_db()
    assert (member.tier_id, member.tier_until) == (None, None)
    assert (evaluation.upgraded, evaluation.downgraded, evaluation.members_checked) == (0, 1, 1)
    assert _history(member) == [(None, 1, ChangeReason.UPGRADE), (1, None, ChangeReason.DOWNGRADE)]


def test_a_downgrade_may_skip_several_ranks_or_stop_at_the_rank_still_qualified_for(shop):
    with time_machine.travel(T0, tick=False):
        gone, still_buying = enrol(shop), enrol(shop)
        buy(shop, gone, 6000, T0)
        buy(shop, still_buying, 6000, T0)
    with time_machine.travel(T0 + timedelta(days=330), tick=False):
        buy(shop, still_buying, 700, T0 + timedelta(days=330))
    assert (rank_of(gone), rank_of(still_buying)) == (3, 3)
    with time_machine.travel(YEAR_LATER, tick=False):
        evaluation = tiers_evaluate(shop=shop)
    assert (rank_of(gone), rank_of(still_buying)) == (0, 1)
    assert evaluation.downgraded == 2
    assert _history(gone) == [(None, 3, "upgrade"), (3, None, "downgrade")]
    assert _history(still_buying) == [(None, 3, "upgrade"), (3, 1, "downgrade")]
    still_buying.refresh_from_db()
    assert still_buying.tier_until == add_months(shop, YEAR_LATER, 12)


def test_a_member_still_qualified_when_retention_ends_is_renewed_without_a_history_row(shop):
    with time_machine.travel(T0, tick=False):
        member = enrol(shop)
        buy(shop, member, 600, T0)
    with time_machine.travel(T0 + timedelta(days=300), tick=False):
        buy(shop, member, 600, T0 + timedelta(days=300))
    with time_machine.travel(YEAR_LATER, tick=False):
        evaluation = tiers_evaluate(shop=shop)
        again = tiers_evaluate(shop=shop)
    member.refresh_from_db()
    assert member.tier == tier(shop, 1)
    assert member.tier_until == add_months(shop, YEAR_LATER, 12)
    assert (evaluation.upgraded, evaluation.downgraded) == (0, 0)
    assert (again.upgraded, again.downgraded) == (0, 0)
    assert _history(member) == [(None, 1, "upgrade")]


def test_a_permanent_manual_assignment_is_never_lowered_but_still_upgraded(shop):
    staff = Actor(label="manager@shop-a.example")
    with time_machine.travel(T0, tick=False):
        member = enrol(shop)
        tier_assign(shop=shop, member=member, tier=tier(shop, 2), note="  门店老客  ", actor=staff)
    member.refresh_from_db()
    assert (member.tier, member.tier_until) == (tier(shop, 2), None)
    change = TierChange.objects.get(member=member)
    assert (change.reason, change.note, change.actor, change.changed_at) == ("manual", "门店老客", staff.label, T0)
    audit = AuditLogEntry.objects.get(shop=shop, action="tier.assign")
    assert audit.changes == {"tier": ["普通会员", "VIP会员"], "tier_until": ["", ""], "note": ["", "门店老客"]}
    with time_machine.travel(YEAR_LATER + timedelta(days=400), tick=False):
        tiers_evaluate(shop=shop)
        assert rank_of(member) == 2
        buy(shop, member, 5000, YEAR_LATER + timedelta(days=400))
    assert rank_of(member) == 3
    assert [r for *_, r in _history(member)] == ["manual", "upgrade"]


def test_a_manual_assignment_with_an_end_is_lowered_after_it(shop):
    with time_machine.travel(T0, tick=False):
        idle, buyer = enrol(shop), enrol(shop)
        buy(shop, buyer, 600, T0)
        for member in (idle, buyer):
            tier_assign(shop=shop, member=member, tier=tier(shop, 2), until=T0 + timedelta(days=30), actor=SYSTEM)
    with time_machine.travel(T0 + timedelta(days=29), tick=False):
        tiers_evaluate(shop=shop)
        assert (rank_of(idle), rank_of(buyer)) == (2, 2)
    with time_machine.travel(T0 + timedelta(days=31), tick=False):
        evaluation = tiers_evaluate(shop=shop)
    assert (rank_of(idle), rank_of(buyer)) == (0, 1)
    assert evaluation.downgraded == 2
    assert _history(idle) == [(None, 2, "manual"), (2, None, "manual_ended")]
    assert _history(buyer) == [(None, 1, "upgrade"), (1, 2, "manual"), (2, 1, "manual_ended")]


def test_manual_assignment_refuses_bad_input_and_changes_nothing(shop, other_shop):
    with time_machine.travel(T0, tick=False):
        member, erased = enrol(shop), enrol(shop)
        member_erase(shop=shop, member=erased, actor=SYSTEM)
        foreign_member = enrol(other_shop)
        audits = AuditLogEntry.objects.count()
        with pytest.raises(UnknownTier):
            tier_assign(shop=shop, member=member, tier=tier(other_shop, 2), actor=SYSTEM)
        with pytest.raises(InvalidTierAssignment):
            tier_assign(shop=shop, member=member, tier=tier(shop, 2), until=T0 - timedelta(days=1), actor=SYSTEM)
        with pytest.raises(InvalidTierAssignment):
            tier_assign(shop=shop, member=member, tier=tier(shop, 2), note="x" * 201, actor=SYSTEM)
        with pytest.raises(MemberErased):
            tier_assign(shop=shop, member=erased, tier=tier(shop, 2), actor=SYSTEM)
        with pytest.raises(Member.DoesNotExist):
            tier_assign(shop=shop, member=foreign_member, tier=tier(shop, 2), actor=SYSTEM)
    assert (rank_of(member), rank_of(erased), rank_of(foreign_member)) == (0, 0, 0)
    assert TierChange.objects.count() == 0
    assert AuditLogEntry.objects.count() == audits


def test_assigning_what_the_member_has_changes_nothing_and_rank_0_is_stored_as_null(shop):
    with time_machine.travel(T0, tick=False):
        member = enrol(shop)
        tier_assign(shop=shop, member=member, tier=tier(shop, 1), actor=SYSTEM)
        tier_assign(shop=shop, member=member, tier=tier(shop, 1), actor=SYSTEM)
        tier_assign(shop=shop, member=member, tier=tier(shop, 0), until=T0 + timedelta(days=9), actor=SYSTEM)
        tier_assign(shop=shop, member=member, tier=tier(shop, 0), actor=SYSTEM)
    member.refresh_from_db()
    assert (member.tier_id, member.tier_until) == (None, None)
    assert _history(member) == [(None, 1, "manual"), (1, None, "manual")]


def test_upgrade_at_once_never_lowers(shop):
    with time_machine.travel(T0, tick=False):
        member = enrol(shop)
        order = buy(shop, member, 6000, T0)
    with time_machine.travel(YEAR_LATER, tick=False):
        refund(shop, order, 6000)  # the refund's effects may call the upgrade too
        assert tiers_upgrade_members(shop=shop, member_ids=[member.pk]) == 0
    assert rank_of(member) == 3


def test_an_erased_member_is_never_evaluated(shop):
    with time_machine.travel(T0, tick=False):
        kept, erased = enrol(shop), enrol(shop)
        buy(shop, erased, 600, T0)
        member_erase(shop=shop, member=erased, actor=SYSTEM)
    with time_machine.travel(YEAR_LATER, tick=False):
        evaluation = tiers_evaluate(shop=shop)
    assert rank_of(erased) == 1
    assert evaluation.members_checked == 1
    assert _history(erased) == [(None, 1, "upgrade")]
    assert rank_of(kept) == 0


def test_evaluating_a_shop_leaves_other_shops_alone(shop, other_shop):
    with time_machine.travel(T0, tick=False):
        ours, theirs = enrol(shop), enrol(other_shop)
        buy(shop, ours, 600, T0)
        buy(other_shop, theirs, 600, T0)
        their_tiers = list(Tier.objects.filter(shop=other_shop).values())
        their_member = Member.objects.filter(pk=theirs.pk).values("tier_id", "tier_until", "updated_at").get()
        # a foreign member id passed to the upgrade is ignored (their row, stamped by their order, stays as it is)
        tier_ladder_apply(shop=shop, ladder=ladder({"name": "银卡", "min_spend": "100"}), actor=SYSTEM)
        assert tiers_upgrade_members(shop=shop, member_ids=[theirs.pk]) == 0
        assert Member.objects.filter(pk=theirs.pk).values("tier_id", "tier_until", "updated_at").get() == their_member
    with time_machine.travel(YEAR_LATER, tick=False):
        evaluation = tiers_evaluate(shop=shop)
    assert (evaluation.members_checked, evaluation.downgraded) == (1, 1)
    assert list(Tier.objects.filter(shop=other_shop).values()) == their_tiers
    assert Member.objects.filter(pk=theirs.pk).values("tier_id", "tier_until", "updated_at").get() == their_member
    assert TierChange.objects.filter(shop=other_shop).count() == 1
    assert TierEvaluation.objects.filter(shop=other_shop).count() == 0


def test_the_incremental_run_looks_only_at_members_whose_figures_changed(shop):
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        members = [enrol(shop) for _ in range(6)]
        for member in members:
            buy(shop, member, 100, T0 - timedelta(days=1))
    with time_machine.travel(T0, tick=False):
        first = tiers_evaluate(shop=shop, mode=EvaluationMode.INCREMENTAL)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        buy(shop, members[0], 450, T0 + timedelta(days=1))
        grow(shop, members[1], 50, T0 + timedelta(days=1))  # changes the row; the default ladder reads no growth
    with time_machine.travel(T0 + timedelta(days=1, hours=2), tick=False):
        second = tiers_evaluate(shop=shop, mode=EvaluationMode.INCREMENTAL)
        third = tiers_evaluate(shop=shop, mode=EvaluationMode.INCREMENTAL)
    assert (first.mode, first.members_checked) == (EvaluationMode.FULL, 6)  # no earlier run
    # the buyer and the member who earned growth value, of six; neither qualifies by the run (the order upgraded)
    assert (second.mode, second.members_checked, second.upgraded) == (EvaluationMode.INCREMENTAL, 2, 0)
    assert (third.mode, third.members_checked) == (EvaluationMode.INCREMENTAL, 0)
    assert rank_of(members[0]) == 1  # upgraded at once by the order


def test_the_incremental_run_is_full_after_new_year_in_the_shops_time_zone(shop):
    with time_machine.travel(utc(2026, 12, 31, 15), tick=False):  # 23:00 in Shanghai
        enrol(shop)
        tiers_evaluate(shop=shop, mode=EvaluationMode.FULL)
    with time_machine.travel(utc(2026, 12, 31, 15, 30), tick=False):
        same_year = tiers_evaluate(shop=shop, mode=EvaluationMode.INCREMENTAL)
    with time_machine.travel(utc(2026, 12, 31, 16, 30), tick=False):  # 00:30 on 1 January there
        new_year = tiers_evaluate(shop=shop, mode=EvaluationMode.INCREMENTAL)
    assert (same_year.mode, new_year.mode) == (EvaluationMode.INCREMENTAL, EvaluationMode.FULL)


RANDOM_LADDER = ladder(
    {"name": "银", "min_spend": "300", "window": "12m", "retention_months": 1},
    {"name": "金", "min_orders": 3, "min_growth": 500, "combine": "all", "window": "year", "retention_months": 2},
    {
        "name": "钻",
        "min_spend": "3000",
        "min_growth": 2000,
        "combine": "any",
        "window": "lifetime",
        "retention_months": 1,
    },
)


def _tiers(shop) -> dict:
    return {
        pk: (tier_id, until)
        for pk, tier_id, until in Member.objects.filter(shop=shop).values_list("pk", "tier_id", "tier_until")
    }


def _random_day(shop, rng: random.Random, members: list[Member], now) -> None:
    """A day of business: orders (some imported with old payment dates), refunds, cancellations, growth rewards
    and manual assignments, through the services."""
    for member in rng.sample(members, 6):
        buy(shop, member, rng.randrange(20, 1500), now - timedelta(days=rng.choice([0, 0, 0, 3, 100, 300, 380])))
    paid = list(Order.objects.filter(shop=shop, status="paid"))
    for order in rng.sample(paid, min(2, len(paid))):
        refund(shop, order, (order.amount / rng.choice([1, 2])).quantize(Decimal("0.01")))
    paid = list(Order.objects.filter(shop=shop, status="paid"))
    if paid:
        order_change_status(shop=shop, order=rng.choice(paid), status="cancelled")
    for member in rng.sample(members, 3):
        grow(shop, member, rng.randrange(50, 800), now)
    member = rng.choice(members)
    until = rng.choice([None, now + timedelta(days=rng.randrange(1, 40))])
    tier_assign(shop=shop, member=member, tier=tier(shop, rng.randrange(0, 4)), until=until, actor=SYSTEM)


@pytest.mark.parametrize("seed", [7, 11, 23])
def test_the_incremental_run_gives_what_a_full_run_gives(shop, seed):
    rng = random.Random(seed)
    day = utc(2026, 10, 1, 2)
    with time_machine.travel(day, tick=False):
        tier_ladder_apply(shop=shop, ladder=RANDOM_LADDER, actor=SYSTEM)
        members = [enrol(shop) for _ in range(30)]
    modes = []
    for _step in range(14):
        day += timedelta(days=rng.choice([1, 1, 2, 9, 20, 33]), hours=rng.randrange(0, 5))
        with time_machine.travel(day, tick=False):
            _random_day(shop, rng, members, day)
        run_at = day + timedelta(hours=3)
        with time_machine.travel(run_at, tick=False):
            with transaction.atomic():
                full = tiers_evaluate(shop=shop, mode=EvaluationMode.FULL)
                expected = _tiers(shop)
                transaction.set_rollback(True)
            incremental = tiers_evaluate(shop=shop, mode=EvaluationMode.INCREMENTAL)
        assert _tiers(shop) == expected, f"step {_step} at {run_at}"
        assert (incremental.upgraded, incremental.downgraded) == (full.upgraded, full.downgraded)
        modes.append((incremental.mode, incremental.members_checked))
    # the runs were incremental but after new year, mostly on fewer members than all, and moved members
    assert sum(1 for mode, _n in modes if mode == EvaluationMode.FULL) == 1, modes
    assert sum(1 for mode, n in modes if mode == EvaluationMode.INCREMENTAL and n < 30) >= 8, modes
    reasons = set(TierChange.objects.filter(shop=shop).values_list("reason", flat=True))
    assert {"upgrade", "downgrade", "manual"} <= reasons
