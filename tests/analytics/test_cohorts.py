"""Cohorts against a hand-computed example (SPEC 14): members joining a minute either side of the shop's month edge,
an order on the last evening of a month and one just after midnight, a cancelled and a fully refunded order, and
another shop's members, which never appear."""

import datetime
from decimal import Decimal

import pytest

from analytics.cohorts import cohorts_compute
from analytics.models import CohortCell, MemberDay
from analytics.rollups import rollup_days
from analytics.selectors_deep import cohort_triangle
from orders.services import OrderInput, RefundInput, order_change_status, order_record, refund_record
from shops.time import shop_zone
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

SEP, OCT, NOV, DEC = (datetime.date(2026, m, 1) for m in (9, 10, 11, 12))


def at(shop, y, m, d, hour, minute=0):
    return datetime.datetime(y, m, d, hour, minute, tzinfo=shop_zone(shop))


def order(shop, member, external_id, paid_at, amount="100.00"):
    data = OrderInput(external_id=external_id, amount=Decimal(amount), paid_at=paid_at, member_id=member.pk)
    return order_record(shop=shop, data=data).order


@pytest.fixture
def facts(shop, other_shop):
    # 23:59 on 30 September in Shanghai is 15:59 UTC: September's cohort; 00:01 on 1 October (16:01 UTC on 30
    # September) is October's, though the same UTC day.
    late = MemberFactory(shop=shop, joined_at=at(shop, 2026, 9, 30, 23, 59))
    early = MemberFactory(shop=shop, joined_at=at(shop, 2026, 10, 1, 0, 1))
    mid = MemberFactory(shop=shop, joined_at=at(shop, 2026, 10, 15, 12))
    MemberFactory(shop=shop, joined_at=at(shop, 2026, 11, 3, 9))  # November: never ordered
    order(shop, late, "L0", at(shop, 2026, 9, 30, 23, 59) + datetime.timedelta(seconds=30))  # Sep, month 0
    order(shop, late, "L1", at(shop, 2026, 10, 1, 0, 30))  # Oct: month 1
    order(shop, mid, "M0", at(shop, 2026, 10, 31, 23, 30))  # the last evening of October: month 0
    order(shop, mid, "M0b", at(shop, 2026, 10, 20, 10))  # a second October order: still one member
    order(shop, mid, "M1", at(shop, 2026, 11, 1, 0, 30))  # half an hour into November: month 1
    cancelled = order(shop, early, "E1", at(shop, 2026, 11, 10, 10))
    order_change_status(shop=shop, order=cancelled, status="cancelled")
    refunded = order(shop, early, "E2", at(shop, 2026, 11, 11, 10), "50.00")
    refund_record(shop=shop, order=refunded, data=RefundInput(external_id="R-E2", amount=Decimal("50.00")))
    order(shop, early, "E3", at(shop, 2026, 12, 2, 10))  # December: month 2
    stranger = MemberFactory(shop=other_shop, joined_at=at(other_shop, 2026, 10, 2, 9))
    order(other_shop, stranger, "X1", at(other_shop, 2026, 10, 3, 9))
    return {"late": late, "early": early, "mid": mid}


NOW = datetime.datetime(2026, 12, 15, 4, tzinfo=datetime.UTC)
EXPECTED = {
    (SEP, 0): (1, 1), (SEP, 1): (1, 1),
    (OCT, 0): (2, 1), (OCT, 1): (2, 1), (OCT, 2): (2, 1),
    (NOV, 0): (1, 0),
}  # fmt: skip


def cells(shop):
    return {(c.cohort_month, c.months_since): (c.members, c.ordered) for c in CohortCell.objects.filter(shop=shop)}


def test_cohorts_from_the_orders_before_any_rollup(shop, facts):
    assert not MemberDay.objects.filter(shop=shop).exists()
    cohorts_compute(shop=shop, now=NOW)
    assert cells(shop) == EXPECTED


def test_cohorts_from_the_members_days(shop, facts):
    rollup_days(shop=shop, first=datetime.date(2026, 9, 1), last=datetime.date(2026, 12, 14))
    assert MemberDay.objects.filter(shop=shop).exists()
    cohorts_compute(shop=shop, now=NOW)
    assert cells(shop) == EXPECTED


def rows(shop):
    fields = ("cohort_month", "months_since", "members", "ordered")
    return sorted(CohortCell.objects.filter(shop=shop).values_list(*fields))


def test_running_twice_changes_nothing(shop, facts):
    cohorts_compute(shop=shop, now=NOW)
    first = rows(shop)
    cohorts_compute(shop=shop, now=NOW)
    assert rows(shop) == first and len(first) == len(EXPECTED)


def test_another_shops_members_never_appear(shop, other_shop, facts):
    cohorts_compute(shop=shop, now=NOW)
    cohorts_compute(shop=other_shop, now=NOW)
    assert cells(other_shop) == {(OCT, 0): (1, 1)}
    assert cells(shop) == EXPECTED


def test_the_triangle_fills_each_cohort_up_to_this_month(shop, facts):
    cohorts_compute(shop=shop, now=NOW)
    triangle = cohort_triangle(shop=shop, months=12, now=NOW)
    rows = [(r["month"], r["members"], [(c["ordered"], c["label"]) for c in r["cells"]]) for r in triangle["rows"]]
    assert rows == [
        (SEP, 1, [(1, "100%"), (1, "100%"), (0, "0%"), (0, "0%")]),
        (OCT, 2, [(1, "50%"), (1, "50%"), (1, "50%")]),
        (NOV, 1, [(0, "0%"), (0, "0%")]),
    ]
    assert triangle["columns"] == [0, 1, 2, 3]
    assert [len(r["blanks"]) for r in triangle["rows"]] == [0, 1, 2]
