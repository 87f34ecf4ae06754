"""Uplift statistics (campaigns.stats) against published and independently computed values, and the coverage of
their intervals over seeded simulations with a known effect."""

import random
from decimal import Decimal

import pytest

from campaigns.stats import Estimate, mean_diff, proportion_diff, t_quantile, wilson_interval


# Newcombe RG (1998), "Interval estimation for the difference between independent proportions: comparison of eleven
# methods", Statistics in Medicine 17:873-890, Table II, method 10 (four decimals as printed).
@pytest.mark.parametrize(
    ("counts", "low", "high"),
    [
        ((56, 70, 48, 80), 0.0524, 0.3339),
        ((9, 10, 3, 10), 0.1705, 0.8090),
        ((6, 7, 2, 7), 0.0582, 0.8062),
        ((5, 56, 0, 29), -0.0381, 0.1926),
        ((0, 10, 0, 20), -0.1611, 0.2775),
        ((0, 10, 0, 10), -0.2775, 0.2775),
        ((10, 10, 0, 20), 0.6791, 1.0000),
        ((10, 10, 0, 10), 0.6075, 1.0000),
    ],
)
def test_proportion_diff_gives_newcombes_published_intervals(counts, low, high):
    treated_hits, treated_n, holdout_hits, holdout_n = counts
    estimate = proportion_diff(
        treated_hits=treated_hits, treated_n=treated_n, holdout_hits=holdout_hits, holdout_n=holdout_n
    )
    assert estimate.diff == pytest.approx(treated_hits / treated_n - holdout_hits / holdout_n)
    assert (round(estimate.low, 4), round(estimate.high, 4)) == (low, high)
    assert estimate.significant is (low > 0)


def test_wilson_interval_of_an_empty_rate():
    assert wilson_interval(hits=0, n=10) == (0.0, pytest.approx(0.27754, abs=1e-5))


def test_an_empty_group_gives_no_estimate_and_impossible_counts_are_refused():
    assert proportion_diff(treated_hits=0, treated_n=0, holdout_hits=1, holdout_n=5) is None
    assert proportion_diff(treated_hits=1, treated_n=5, holdout_hits=0, holdout_n=0) is None
    with pytest.raises(ValueError, match="not a rate"):
        proportion_diff(treated_hits=6, treated_n=5, holdout_hits=0, holdout_n=5)
    with pytest.raises(ValueError, match="not a rate"):
        proportion_diff(treated_hits=-1, treated_n=5, holdout_hits=0, holdout_n=5)


# Student t 0.975 quantiles (scipy.stats.t.ppf, to 9 decimals; the integer ones are those of printed tables).
@pytest.mark.parametrize(
    ("df", "expected"),
    [
        (1, 12.706204736),
        (2, 4.302652730),
        (2.5, 3.574654842),
        (5, 2.570581836),
        (5.882, 2.458860313),
        (10, 2.228138852),
        (30, 2.042272456),
        (100, 1.983971519),
        (1000, 1.962339081),
    ],
)
def test_t_quantile(df, expected):
    assert t_quantile(df=df) == pytest.approx(expected, abs=1e-8)


def test_t_quantile_refuses_no_degrees_of_freedom():
    with pytest.raises(ValueError, match="positive"):
        t_quantile(df=0)


def test_mean_diff_is_welchs_interval():
    # Reference: scipy.stats.ttest_ind(equal_var=False).confidence_interval(0.95).
    # [1..5] against [2, 4, ..., 10]: diff -3, se sqrt(2.5), Welch df 5.882.
    assert mean_diff(treated_values=[1, 2, 3, 4, 5], holdout_values=[2, 4, 6, 8, 10]) == Estimate(
        -3.0, pytest.approx(-6.887741643737), pytest.approx(0.887741643737), False
    )
    revenue = mean_diff(
        treated_values=[Decimal("12.50"), 0, 0, Decimal("30.00"), Decimal("8.20"), 0, 45, 0, Decimal("19.90"), 3],
        holdout_values=[0, 0, 10, 0, Decimal("5.50"), 0, 0, 22],
    )
    assert (revenue.diff, revenue.low, revenue.high) == pytest.approx((7.1725, -4.904631711037, 19.249631711037))
    assert revenue.significant is False


def test_a_clear_difference_in_means_is_significant():
    estimate = mean_diff(treated_values=[10, 11, 12, 13, 14], holdout_values=[1, 2, 3, 4, 5])
    assert estimate.diff == 9.0
    assert estimate.low > 0
    assert estimate.significant is True


def test_mean_diff_without_spread():
    assert mean_diff(treated_values=[5], holdout_values=[1, 2]) is None
    assert mean_diff(treated_values=[1, 2], holdout_values=[]) is None
    assert mean_diff(treated_values=[3, 3], holdout_values=[1, 1]) == Estimate(2.0, 2.0, 2.0, True)
    assert mean_diff(treated_values=[3, 3], holdout_values=[3, 3]) == Estimate(0.0, 0.0, 0.0, False)


def test_the_rate_interval_covers_the_true_effect_about_95_times_in_100():
    rng = random.Random(4)  # coverage over seeds 0-7: 0.9475-0.9625 (seed 20261207 drew 0.92, within 3 sd)
    true_treated, true_holdout = 0.12, 0.08
    covered = 0
    for _ in range(400):
        treated = sum(rng.random() < true_treated for _ in range(900))
        holdout = sum(rng.random() < true_holdout for _ in range(100))
        estimate = proportion_diff(treated_hits=treated, treated_n=900, holdout_hits=holdout, holdout_n=100)
        covered += estimate.low <= true_treated - true_holdout <= estimate.high
    assert 0.92 <= covered / 400 <= 0.98, covered


def test_the_mean_interval_covers_the_true_effect_about_95_times_in_100():
    # Skewed revenue (exponential), unequal groups and spreads: what Welch's interval is for.
    rng = random.Random(7)
    covered = 0
    for _ in range(400):
        treated = [rng.expovariate(1 / 50) for _ in range(80)]
        holdout = [rng.expovariate(1 / 40) for _ in range(20)]
        estimate = mean_diff(treated_values=treated, holdout_values=holdout)
        covered += estimate.low <= 50 - 40 <= estimate.high
    assert 0.92 <= covered / 400 <= 0.98, covered
