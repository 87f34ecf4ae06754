"""The rollups against a hand-computed example (SPEC 14): a cancelled order, a full refund, a partial refund, a late
refund of an older order, a non-member's order and orders on either side of the shop's midnight."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from analytics.consumers import days_touched
from analytics.models import DirtyDay, MemberDay, SalesDay
from analytics.rollups import rollup_days, rollup_pass
from analytics.selectors import period_figures, previous_period, summary
from events.consumers import DomainEvent
from orders.services import OrderInput, RefundInput, order_change_status, order_record, refund_record
from shops.time import shop_zone
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

D1, D2, D3 = datetime.date(2026, 11, 10), datetime.date(2026, 11, 11), datetime.date(2026, 11, 12)


def at(shop, day, hour, minute=0):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=shop_zone(shop))


def order(shop, external_id, amount, paid_at, member=None, **fields):
    data = OrderInput(
        external_id=external_id, amount=Decimal(amount), paid_at=paid_at, member_id=member.pk if member else None,
        phone="" if member else "", **fields,
    )  # fmt: skip
    return order_record(shop=shop, data=data).order


@pytest.fixture
def facts(shop, other_shop):
    a, b, c = (MemberFactory(shop=shop, joined_at=at(shop, D1, 9)) for _ in range(3))
    orders = {
        "a": order(shop, "A1", "100.00", at(shop, D1, 10), a),
        "b": order(shop, "A2", "50.00", at(shop, D1, 23, 30), a),  # 15:30 UTC: still the shop's D1
        "c": order(shop, "B1", "80.00", at(shop, D2, 0, 10), b),  # 16:10 UTC on D1: the shop's D2
        "d": order(shop, "N1", "30.00", at(shop, D1, 12)),  # no member
        "e": order(shop, "B2", "200.00", at(shop, D1, 13), b),  # cancelled below
        "f": order(shop, "C1", "60.00", at(shop, D1, 14), c),  # fully refunded below
        "g": order(shop, "C2", "100.00", at(shop, D1, 15), c),  # 40 refunded below
    }
    order_change_status(shop=shop, order=orders["e"], status="cancelled")
    refund_record(shop=shop, order=orders["f"], data=RefundInput(external_id="R-f", amount=Decimal("60.00")))
    refund_record(shop=shop, order=orders["g"], data=RefundInput(external_id="R-g", amount=Decimal("40.00")))
    other = MemberFactory(shop=other_shop, joined_at=at(other_shop, D1, 9))
    order(other_shop, "X1", "999.00", at(other_shop, D1, 10), other)  # another shop's order never counts here
    return {"members": (a, b, c), "orders": orders}


def sales(shop, day):
    row = SalesDay.objects.get(shop=shop, day=day)
    return row.orders, row.sales, row.member_orders, row.member_sales


def test_each_day_counts_what_the_rules_say(shop, facts):
    rollup_days(shop=shop, first=D1, last=D3)
    # D1: A1 100 + A2 50 + N1 30 + C2 (100 - 40) = 240 over 4 orders; members' 210 over 3
    assert sales(shop, D1) == (4, Decimal("240.00"), 3, Decimal("210.00"))
    assert sales(shop, D2) == (1, Decimal("80.00"), 1, Decimal("80.00"))
    assert not SalesDay.objects.filter(shop=shop, day=D3).exists()
    figures = period_figures(shop=shop, first=D1, last=D2)
    assert figures["orders"] == 5 and figures["sales"] == Decimal("320.00")
    assert figures["non_member_orders"] == 1 and figures["non_member_sales"] == Decimal("30.00")
    assert figures["member_share_of_sales"] == round(290 / 320, 4)
    assert figures["aov_member"] == Decimal("72.50") and figures["aov_non_member"] == Decimal("30.00")
    assert figures["members_new"] == 3 and figures["members_active"] == 3
    assert figures["repeat_purchase_rate"] == round(1 / 3, 4)  # A bought twice; B and C once


def test_a_late_refund_corrects_its_own_day_when_the_pass_runs(shop, facts):
    rollup_days(shop=shop, first=D1, last=D2)
    a1 = facts["orders"]["a"]
    refund_record(shop=shop, order=a1, data=RefundInput(external_id="R-late", amount=Decimal("20.00")))
    event = DomainEvent(None, shop.pk, "order.refunded", a1.member_id, at(shop, D3, 9), 1, {"order_id": a1.pk})
    assert days_touched(shop=shop, events=[event]) == {D1}  # the refund marks the order's payment day
    DirtyDay.objects.create(shop=shop, day=D1)
    rollup_pass(shop=shop, now=at(shop, D3, 1))
    assert sales(shop, D1) == (4, Decimal("220.00"), 3, Decimal("190.00"))
    assert not DirtyDay.objects.filter(shop=shop).exists()


def test_running_a_range_twice_changes_nothing(shop, facts):
    rollup_days(shop=shop, first=D1, last=D3)
    before = list(SalesDay.objects.filter(shop=shop).values()), list(MemberDay.objects.filter(shop=shop).values())
    rollup_days(shop=shop, first=D1, last=D3)
    after = list(SalesDay.objects.filter(shop=shop).values()), list(MemberDay.objects.filter(shop=shop).values())
    strip = lambda rows: sorted((tuple(v for k, v in r.items() if k != "id") for r in rows), key=str)  # noqa: E731
    assert [strip(x) for x in before] == [strip(x) for x in after]


def test_the_backfill_command_and_the_previous_period(shop, facts, capsys):
    call_command("analytics_backfill", shop=shop.slug, first=D1.isoformat(), last=D3.isoformat())
    assert "salesday" in capsys.readouterr().out.replace("sales:", "salesday")
    result = summary(shop=shop, first=D2, last=D2)
    assert result["orders"] == 1 and result["previous"]["orders"] == 4  # D1, the day before
    assert previous_period(D1, D3) == (D1 - datetime.timedelta(days=3), D1 - datetime.timedelta(days=1))


def test_the_other_shop_rolls_up_only_its_own(shop, other_shop, facts):
    rollup_days(shop=other_shop, first=D1, last=D1)
    assert sales(other_shop, D1) == (1, Decimal("999.00"), 1, Decimal("999.00"))
    assert not SalesDay.objects.filter(shop=shop).exists()


def test_the_summary_is_cached_until_the_rollups_change(shop, facts):
    rollup_days(shop=shop, first=D1, last=D2)
    first = summary(shop=shop, first=D1, last=D1)
    assert first["sales"] == Decimal("240.00")
    a1 = facts["orders"]["a"]
    refund_record(shop=shop, order=a1, data=RefundInput(external_id="R-cache", amount=Decimal("20.00")))
    assert summary(shop=shop, first=D1, last=D1)["sales"] == Decimal("240.00")  # the rollups have not changed yet
    rollup_days(shop=shop, first=D1, last=D1)
    assert summary(shop=shop, first=D1, last=D1)["sales"] == Decimal("220.00")


def test_a_day_run_again_after_its_facts_changed_has_the_rows_of_a_fresh_rollup(shop, facts):
    """The second run of a day writes by difference (rows gone deleted, changed updated, new inserted): it must leave
    the rows a first run over an empty day writes."""
    rollup_days(shop=shop, first=D1, last=D3)
    a, b, c = facts["members"]
    refund_record(shop=shop, order=facts["orders"]["c"], data=RefundInput(external_id="R-B1", amount=Decimal("80")))
    refund_record(shop=shop, order=facts["orders"]["a"], data=RefundInput(external_id="R-A1", amount=Decimal("30")))
    order(shop, "C3", "25.00", at(shop, D2, 9), c)
    order(shop, "NEW", "5.00", at(shop, D3, 23, 59), MemberFactory(shop=shop))

    def member_days():
        rows = MemberDay.objects.filter(shop=shop).values_list("day", "member_id", "orders", "sales")
        return sorted(rows)

    rollup_days(shop=shop, first=D1, last=D3)
    rerun = member_days()
    # B's only order on D2 is fully refunded: gone; A's D1 is 120.00 (100 - 30 + 50); C is new on D2 and the new
    # member on D3 (23:59 shop time).
    assert [(r[0], r[1]) for r in rerun] == sorted([(D1, a.pk), (D1, c.pk), (D2, c.pk), (D3, rerun[-1][1])])
    assert (D1, a.pk, 2, Decimal("120.00")) in rerun and (D2, c.pk, 1, Decimal("25.00")) in rerun
    MemberDay.objects.filter(shop=shop).delete()
    rollup_days(shop=shop, first=D1, last=D3)
    assert member_days() == rerun
