"""The IFRS 15 worked example of customer loyalty points (IE267-IE270) as issue 20 states it: 10,000 points,
9,000 of the price allocated to them, 97% expected to be redeemed (9,700 points)."""

from decimal import Decimal

import pytest

from analytics.liability import recognised


def test_the_first_year_recognises_4175():
    first = recognised(allocated=Decimal(9000), redeemed_cumulative=4500, expected_total=9700, recognised_before=0)
    assert first == Decimal("4175.26")  # 9,000 x 4,500 / 9,700
    assert first.quantize(Decimal(1)) == 4175


@pytest.mark.parametrize(("expected_total", "cents", "units"), [(9900, "3552.01", 3552), (9200, "4139.96", 4140)])
def test_the_second_year_trues_up_to_the_new_estimate(expected_total, cents, units):
    before = recognised(allocated=Decimal(9000), redeemed_cumulative=4500, expected_total=9700, recognised_before=0)
    second = recognised(
        allocated=Decimal(9000), redeemed_cumulative=4500 + 4000, expected_total=expected_total,
        recognised_before=before,
    )  # fmt: skip
    assert second == Decimal(cents)  # 9,000 x 8,500 / estimate, less 4,175.26
    assert second.quantize(Decimal(1)) == units
    as_stated = recognised(
        allocated=Decimal(9000), redeemed_cumulative=8500, expected_total=expected_total,
        recognised_before=Decimal(4175),
    )  # fmt: skip
    assert as_stated.quantize(Decimal(1)) == units  # with the first year's revenue as the issue rounds it


def test_no_more_than_the_allocation_and_no_division_by_nothing():
    assert recognised(allocated=Decimal(100), redeemed_cumulative=50, expected_total=40, recognised_before=0) == 100
    with pytest.raises(ValueError):
        recognised(allocated=Decimal(100), redeemed_cumulative=1, expected_total=0, recognised_before=0)
