"""The pure earning, expiry and cash rules (points.rules): exact values, each rounding stated."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from points.models import BonusKind, BonusRule, ExpiryMode, ExpiryRounding, PointsProgram, Rounding
from points.rules import CashQuote, ItemFacts, OrderFacts, expiry_for, points_cash_quote, points_for_order

PAID = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
ZONE = "Asia/Shanghai"


def _award(amount, *, program=None, rules=(), **facts):
    return points_for_order(
        program=program or PointsProgram(),
        bonus_rules=list(rules),
        facts=OrderFacts(amount=Decimal(amount), paid_at=facts.pop("paid_at", PAID), **facts),
        time_zone=ZONE,
    )


def _item(price, category="", sku="SKU", quantity=1):
    return ItemFacts(sku=sku, category=category, quantity=quantity, unit_price=Decimal(price))


def test_the_default_program_earns_one_point_per_whole_yuan_and_as_much_growth():
    award = _award("123.99")
    assert (award.points, award.growth) == (123, 123)
    assert [(line.rule, line.points) for line in award.lines] == [("base", Decimal("123.99"))]


@pytest.mark.parametrize(("rounding", "points"), [(Rounding.DOWN, 15), (Rounding.HALF_UP, 16), (Rounding.UP, 16)])
def test_the_rate_and_the_rounding_apply_once_to_the_total(rounding, points):
    # 10.35 x 1.5 = 15.525
    assert _award("10.35", program=PointsProgram(points_per_unit=Decimal("1.5"), rounding=rounding)).points == points


def test_half_up_rounds_a_half_up():
    program = PointsProgram(points_per_unit=Decimal("0.5"), rounding=Rounding.HALF_UP)
    assert (_award("3", program=program).points, _award("2.98", program=program).points) == (2, 1)


def test_excluded_categories_earn_nothing_and_the_paid_amount_is_spread_over_the_items():
    # listed 90 + 10 = 100, paid 95: the goods' share is 95 x 90 / 100 = 85.5
    program = PointsProgram(excluded_categories=["shipping"])
    award = _award("95", program=program, items=(_item("45", "wine", quantity=2), _item("10", "shipping")))
    assert (award.points, award.growth) == (85, 85)
    assert award.lines[0].basis == Decimal("85.5")


def test_items_without_value_leave_the_whole_amount_earning():
    assert _award("50", items=(_item("0", "gift"),)).points == 50


def test_the_tier_multiplier_adds_its_share_of_the_base():
    award = _award("100", tier_name="VIP会员", tier_multiplier=Decimal("1.5"))
    assert award.points == 150
    assert [(line.rule, line.name, line.points) for line in award.lines] == [
        ("base", "", Decimal(100)),
        ("tier", "VIP会员", Decimal("50.0")),
    ]
    assert award.growth == 100  # growth value has no multipliers


def test_a_category_bonus_multiplies_only_the_matching_items():
    rule = BonusRule(name="红酒三倍", kind=BonusKind.CATEGORY, match="wine", multiplier=Decimal(3))
    award = _award("100", rules=[rule], items=(_item("60", "wine"), _item("40", "food")))
    assert award.points == 100 + 120
    assert award.lines[1].basis == Decimal(60)


def test_a_sku_bonus_with_extra_points_applies_once_per_order():
    rule = BonusRule(name="新品", kind=BonusKind.SKU, match="NEW-1", extra_points=30)
    assert _award("80", rules=[rule], items=(_item("80", sku="NEW-1"),)).points == 110
    assert _award("80", rules=[rule], items=(_item("80", sku="OLD-1"),)).points == 80


def test_a_date_range_bonus_follows_the_shops_calendar():
    rule = BonusRule(
        name="双十一",
        kind=BonusKind.DATE_RANGE,
        multiplier=Decimal(2),
        starts_on=date(2026, 11, 11),
        ends_on=date(2026, 11, 11),
    )
    # 2026-11-10 16:30 UTC is 11-11 00:30 in Shanghai; 2026-11-11 16:30 UTC is already 11-12 there
    assert _award("100", rules=[rule], paid_at=datetime(2026, 11, 10, 16, 30, tzinfo=UTC)).points == 200
    assert _award("100", rules=[rule], paid_at=datetime(2026, 11, 11, 16, 30, tzinfo=UTC)).points == 100


def test_birthday_month_and_first_purchase_bonuses():
    birthday = BonusRule(name="生日月", kind=BonusKind.BIRTHDAY_MONTH, multiplier=Decimal(2))
    first = BonusRule(name="首单", kind=BonusKind.FIRST_PURCHASE, extra_points=50)
    assert _award("100", rules=[birthday, first], birthday_month=11, first_purchase=True).points == 250
    assert _award("100", rules=[birthday, first], birthday_month=5, first_purchase=False).points == 100


def test_inactive_and_out_of_dates_rules_do_not_apply():
    off = BonusRule(name="停用", kind=BonusKind.FIRST_PURCHASE, extra_points=50, active=False)
    later = BonusRule(name="以后", kind=BonusKind.FIRST_PURCHASE, extra_points=50, starts_on=date(2027, 1, 1))
    assert _award("100", rules=[off, later], first_purchase=True).points == 100


def test_the_cap_limits_an_order_and_says_so():
    award = _award("1000", program=PointsProgram(per_order_cap=200), tier_multiplier=Decimal(2))
    assert award.points == 200
    assert award.lines[-1].rule == "cap" and award.lines[-1].points == Decimal(-1800)
    assert award.as_details()["lines"][-1] == {
        "rule": "cap",
        "name": "",
        "points": "-1800",
        "basis": "200",
        "multiplier": None,
        "extra": 0,
    }


def test_a_zero_amount_earns_nothing():
    assert (_award("0").points, _award("0.99").points) == (0, 0)


def _expiry(earned_at, **program):
    return expiry_for(program=PointsProgram(**program), time_zone=ZONE, earned_at=earned_at)


def _local(*args):
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo(ZONE))


def test_expiry_at_the_end_of_the_following_year_is_the_shops_new_year():
    # 2026-12-31 20:00 UTC is already 2027-01-01 in Shanghai: the points last until the end of 2028 there
    assert _expiry(datetime(2026, 12, 31, 20, 0, tzinfo=UTC)) == _local(2029, 1, 1)
    assert _expiry(datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == _local(2028, 1, 1)


def test_expiry_after_days_and_months_with_rounding():
    earned = _local(2027, 1, 31, 15, 30)
    days = {"expiry_mode": ExpiryMode.AFTER_DAYS, "expiry_period": 30}
    months = {"expiry_mode": ExpiryMode.AFTER_MONTHS, "expiry_period": 1}
    assert _expiry(earned, **days) == _local(2027, 3, 2, 15, 30)
    assert _expiry(earned, **months) == _local(2027, 2, 28, 15, 30)  # no 31 February: its last day
    assert _expiry(earned, **months, expiry_rounding=ExpiryRounding.MONTH_END) == _local(2027, 3, 1)
    assert _expiry(earned, **months, expiry_rounding=ExpiryRounding.YEAR_END) == _local(2028, 1, 1)
    assert _expiry(earned, expiry_mode=ExpiryMode.NEVER) is None


def test_points_as_cash_respect_the_minimum_and_the_share_of_the_order():
    program = PointsProgram(cash_enabled=True, points_per_cash_unit=100, cash_min_points=500, cash_max_share=20)
    assert points_cash_quote(program=program, points=1999, order_amount=Decimal(100)) == CashQuote(
        1999, Decimal("19.99")
    )
    assert points_cash_quote(program=program, points=2001, order_amount=Decimal(100)) == "above_cap"
    assert points_cash_quote(program=program, points=499, order_amount=Decimal(100)) == "below_minimum"
    assert points_cash_quote(program=PointsProgram(), points=1000, order_amount=Decimal(100)) == "cash_disabled"
