"""Items bought together against a hand-computed basket set (SPEC 14): support, confidence both ways and lift, the
minimum support, an item counted once per basket, cancelled, fully refunded and old orders left out, and another
shop's baskets never counted."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import DeepState, ItemPair
from analytics.pairs import min_support, pairs_compute
from orders.services import ItemInput, OrderInput, RefundInput, order_change_status, order_record, refund_record
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def basket(shop, external_id, skus, *, days_ago=10, member=None):
    """An order of one line per SKU; a SKU's category is its letter, upper-case ("a2" is in category "A")."""
    items = tuple(ItemInput(sku=s, quantity=1, unit_price=Decimal("10.00"), category=s[0].upper()) for s in skus)
    paid_at = timezone.now() - datetime.timedelta(days=days_ago)
    data = OrderInput(
        external_id=external_id, amount=Decimal(10 * len(skus)), paid_at=paid_at,
        member_id=member.pk if member else None, items=items,
    )  # fmt: skip
    return order_record(shop=shop, data=data).order


@pytest.fixture
def baskets(shop, other_shop):
    member = MemberFactory(shop=shop)
    basket(shop, "O1", ["a1", "a2", "b1", "c1"], member=member)  # category A twice: one A in the basket
    basket(shop, "O2", ["a1", "b1"])
    basket(shop, "O3", ["a1", "c1"])
    basket(shop, "O4", ["b1"])
    basket(shop, "O5", ["a1", "b1"])
    order_change_status(shop=shop, order=basket(shop, "X-cancelled", ["a1", "c1"]), status="cancelled")
    refunded = basket(shop, "X-refunded", ["b1", "c1"])
    refund_record(shop=shop, order=refunded, data=RefundInput(external_id="R1", amount=refunded.amount))
    basket(shop, "X-old", ["a1", "c1"], days_ago=400)
    for n in range(4):
        basket(other_shop, f"Y{n}", ["a1", "c1"])  # another shop's pairs: never here


def pairs(shop, kind):
    return {
        (p.a, p.b): (p.baskets, p.a_baskets, p.b_baskets, round(p.support, 4), round(p.confidence_ab, 4),
                     round(p.confidence_ba, 4), round(p.lift, 4))
        for p in ItemPair.objects.filter(shop=shop, kind=kind)
    }  # fmt: skip


def test_support_confidence_and_lift_by_hand(shop, baskets):
    assert pairs_compute(shop=shop) == {"category": 5, "sku": 5}
    # 5 baskets; A in 4 (O1 O2 O3 O5), B in 4 (O1 O2 O4 O5), C in 2 (O1 O3): the minimum is max(3, 0.1% of 5) = 3,
    # so C and its pairs drop. A and B together in 3: support 3/5, confidence 3/4 both ways, lift 3*5/(4*4).
    expected = (3, 4, 4, 0.6, 0.75, 0.75, 0.9375)
    assert pairs(shop, "category") == {("A", "B"): expected}
    # SKUs: a1 in 4, b1 in 4, a2 in 1, c1 in 2: the same pair.
    assert pairs(shop, "sku") == {("a1", "b1"): expected}
    state = DeepState.objects.get(shop=shop)
    assert (state.category_baskets, state.sku_baskets) == (5, 5)


def test_a_pair_below_the_minimum_is_left_out_and_one_at_it_kept(shop):
    for n in range(3):
        basket(shop, f"AB{n}", ["a1", "b1"])
    for n in range(2):
        basket(shop, f"AC{n}", ["a1", "c1"])
    basket(shop, "C", ["c1"])  # C in 3 baskets, but with A in only 2
    pairs_compute(shop=shop)
    # 6 baskets; A 5, B 3, C 3; A-B 3: support 0.5, A->B 3/5, B->A 1, lift 3*6/(5*3) = 1.2
    assert pairs(shop, "category") == {("A", "B"): (3, 5, 3, 0.5, 0.6, 1.0, 1.2)}


def test_the_minimum_support_scales_with_the_baskets():
    assert [min_support(n) for n in (0, 1, 2999, 3000, 3001, 10_000, 1_000_000)] == [3, 3, 3, 3, 4, 10, 1000]


def test_running_twice_changes_nothing(shop, baskets):
    pairs_compute(shop=shop)
    first = pairs(shop, "category") | pairs(shop, "sku")
    pairs_compute(shop=shop)
    assert pairs(shop, "category") | pairs(shop, "sku") == first
    assert ItemPair.objects.filter(shop=shop).count() == 2


def test_another_shops_baskets_are_its_own(shop, other_shop, baskets):
    pairs_compute(shop=shop)
    pairs_compute(shop=other_shop)
    assert pairs(other_shop, "category") == {("A", "C"): (4, 4, 4, 1.0, 1.0, 1.0, 1.0)}
    assert ("A", "C") not in pairs(shop, "category")


def test_a_shop_without_items_has_no_pairs(shop):
    assert pairs_compute(shop=shop) == {"category": 0, "sku": 0}
    assert not ItemPair.objects.filter(shop=shop).exists()
