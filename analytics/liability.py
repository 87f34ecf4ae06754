"""The accounting view of points (IFRS 15, customer options for additional goods: IE267-IE270). Part of the price
of the sales that earned points is allocated to the points and recognised as revenue as they are redeemed, in
proportion to the points expected to be redeemed in all; when the estimate changes, the cumulative revenue is
trued up in the period of the change. Pure arithmetic, no database."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def recognised(
    *, allocated: Decimal, redeemed_cumulative: int, expected_total: int, recognised_before: Decimal
) -> Decimal:
    """The revenue to recognise now: `allocated` x redeemed so far / expected in all (at most the whole of
    `allocated`), less what was recognised before. Rounded half up to the cent. Raises ValueError when nothing is
    expected to be redeemed or a count is negative."""
    if expected_total <= 0 or redeemed_cumulative < 0:
        raise ValueError("expected_total must be positive and redeemed_cumulative not negative")
    share = min(Decimal(redeemed_cumulative) / Decimal(expected_total), Decimal(1))
    return (allocated * share - recognised_before).quantize(CENT, rounding=ROUND_HALF_UP)
