"""Coupon arithmetic (coupons.rules): what each kind takes off a cart, and the reasons it takes nothing."""

from decimal import Decimal

import pytest

from coupons.rules import Cart, CartItem, Discount, Refusal, Terms, coupon_discount

D = Decimal


def _terms(kind: str, value: str, **fields) -> Terms:
    return Terms(kind=kind, value=D(value), **fields)


def _items(*rows) -> tuple[CartItem, ...]:
    return tuple(
        CartItem(sku=sku, category=category, quantity=qty, unit_price=D(price)) for sku, category, qty, price in rows
    )


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("99.99", None), ("100.00", D("20")), ("350.00", D("20"))],
)
def test_amount_off_takes_its_value_from_the_threshold_up(amount, expected):
    outcome = coupon_discount(_terms("amount_off", "20", min_spend=D("100")), Cart(amount=D(amount)))

    if expected is None:
        assert outcome == Refusal("below_threshold", {"min_spend": "100", "short_by": "0.01"})
    else:
        assert outcome == Discount(expected, D(amount))


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        ("100.00", "20", "20.00"),
        ("33.33", "15", "5.00"),  # 4.9995 rounds half up to 5.00
        ("10.05", "10", "1.01"),  # 1.005 rounds half up, not to even
        ("10.04", "10", "1.00"),  # 1.004 rounds down
        ("0.01", "30", "0.00"),
    ],
)
def test_percent_off_rounds_half_up_to_the_cent(amount, percent, expected):
    outcome = coupon_discount(_terms("percent_off", percent), Cart(amount=D(amount)))

    assert outcome == Discount(D(expected), D(amount))


def test_percent_off_is_capped_by_the_maximum_discount():
    terms = _terms("percent_off", "20", max_discount=D("50"))

    assert coupon_discount(terms, Cart(amount=D("200.00"))).amount == D("40.00")
    assert coupon_discount(terms, Cart(amount=D("1000.00"))).amount == D("50")


def test_percent_off_keeps_its_threshold():
    terms = _terms("percent_off", "10", min_spend=D("300"))

    assert coupon_discount(terms, Cart(amount=D("299.00"))) == Refusal(
        "below_threshold", {"min_spend": "300", "short_by": "1.00"}
    )
    assert coupon_discount(terms, Cart(amount=D("300.00"))).amount == D("30.00")


@pytest.mark.parametrize(("amount", "expected"), [("50.00", "10"), ("10.00", "10"), ("6.50", "6.50"), ("0", "0")])
def test_no_threshold_takes_its_value_but_never_more_than_the_order(amount, expected):
    outcome = coupon_discount(_terms("no_threshold", "10"), Cart(amount=D(amount)))

    assert outcome == Discount(D(expected), D(amount))


def test_free_shipping_covers_the_shipping_in_full_or_up_to_its_cap():
    cart = Cart(amount=D("80.00"), shipping=D("12.00"))

    assert coupon_discount(_terms("free_shipping", "0"), cart) == Discount(
        D("12.00"), D("80.00"), {"free_shipping": True}
    )
    assert coupon_discount(_terms("free_shipping", "8"), cart) == Discount(D("8"), D("80.00"), {"free_shipping": True})
    assert coupon_discount(_terms("free_shipping", "20"), cart).amount == D("12.00")
    assert coupon_discount(_terms("free_shipping", "0"), Cart(amount=D("80.00"))).amount == D("0")


def test_free_shipping_keeps_its_threshold():
    terms = _terms("free_shipping", "0", min_spend=D("99"))

    assert coupon_discount(terms, Cart(amount=D("98.00"), shipping=D("10"))).reason == "below_threshold"
    assert coupon_discount(terms, Cart(amount=D("99.00"), shipping=D("10"))).amount == D("10")


def test_a_gift_takes_nothing_off_and_names_the_item():
    outcome = coupon_discount(_terms("gift", "39", item_sku="GIFT-TOWEL"), Cart(amount=D("150.00")))

    assert outcome == Discount(D("0.00"), D("150.00"), {"gift_sku": "GIFT-TOWEL"})


def test_an_exchange_voucher_pays_for_its_item_when_the_order_has_it():
    terms = _terms("exchange", "0", item_sku="CUP-1")
    cart = Cart(amount=D("70.00"), items=_items(("CUP-1", "杯具", 2, "25.00"), ("TEA-9", "茶叶", 1, "20.00")))

    assert coupon_discount(terms, cart) == Discount(D("25.00"), D("70.00"), {"exchange_sku": "CUP-1"})
    # a stated value caps what the voucher pays
    assert coupon_discount(_terms("exchange", "18", item_sku="CUP-1"), cart).amount == D("18")


def test_an_exchange_voucher_without_its_item_in_the_order_is_refused():
    terms = _terms("exchange", "0", item_sku="CUP-1")
    cart = Cart(amount=D("20.00"), items=_items(("TEA-9", "茶叶", 1, "20.00")))

    assert coupon_discount(terms, cart) == Refusal("item_missing", {"sku": "CUP-1"})
    assert coupon_discount(terms, Cart(amount=D("20.00"))) == Refusal("item_missing", {"sku": "CUP-1"})


def test_a_category_coupon_applies_to_the_matching_items_only():
    terms = _terms("percent_off", "10", scope="categories", scope_values=("母婴",))
    cart = Cart(amount=D("300.00"), items=_items(("MB-1", "母婴", 2, "50.00"), ("TV-1", "家电", 1, "200.00")))

    assert coupon_discount(terms, cart) == Discount(D("10.00"), D("100.00"))


def test_a_sku_coupon_applies_to_the_matching_items_only():
    terms = _terms("amount_off", "30", min_spend=D("100"), scope="skus", scope_values=("TV-1",))
    cart = Cart(amount=D("300.00"), items=_items(("MB-1", "母婴", 2, "50.00"), ("TV-1", "家电", 1, "200.00")))

    assert coupon_discount(terms, cart) == Discount(D("30"), D("200.00"))


def test_the_threshold_of_a_scoped_coupon_counts_the_matching_items_only():
    terms = _terms("amount_off", "20", min_spend=D("100"), scope="categories", scope_values=("母婴",))
    cart = Cart(amount=D("500.00"), items=_items(("MB-1", "母婴", 1, "80.00"), ("TV-1", "家电", 1, "420.00")))

    assert coupon_discount(terms, cart) == Refusal("below_threshold", {"min_spend": "100", "short_by": "20.00"})


def test_a_scoped_coupon_needs_the_items_and_one_of_them_in_scope():
    terms = _terms("no_threshold", "5", scope="skus", scope_values=("TV-1",))

    assert coupon_discount(terms, Cart(amount=D("100.00"))) == Refusal("items_required")
    outside = Cart(amount=D("100.00"), items=_items(("MB-1", "母婴", 2, "50.00")))
    assert coupon_discount(terms, outside) == Refusal("outside_scope")


def test_a_scoped_discount_never_exceeds_the_order_amount():
    # items listed at more than the order comes to (e.g. after a shop-wide promotion): the order amount bounds it
    terms = _terms("percent_off", "50", scope="categories", scope_values=("母婴",))
    cart = Cart(amount=D("60.00"), items=_items(("MB-1", "母婴", 1, "100.00")))

    assert coupon_discount(terms, cart) == Discount(D("30.00"), D("60.00"))


def test_terms_are_read_from_a_template():
    class Template:
        kind, value, min_spend, max_discount = "percent_off", D("20"), None, D("50")
        scope, scope_values, item_sku = "skus", ["A", "B"], ""

    assert Terms.of(Template) == Terms("percent_off", D("20"), None, D("50"), "skus", ("A", "B"), "")
