"""Statistics for holdout uplift (SPEC 12): the difference between treated and held-out members with a 95%
confidence interval, for a conversion rate and for a mean (revenue per member). Pure functions on counts and
values, no database and no numpy/scipy (not dependencies): math and statistics from the standard library.

- Rates: Newcombe's hybrid score interval (Newcombe 1998, method 10), built from the two Wilson score intervals.
  Unlike the textbook Wald interval it keeps its 95% coverage for small groups and rates near 0 or 1, which is
  what a holdout of a small campaign is.
- Means: Welch's t interval (no equal-variance assumption: a coupon changes the spread of spend, not only its
  mean). The t quantile for the Welch-Satterthwaite degrees of freedom (a fraction) is computed, not looked up:
  the Student t distribution is the regularized incomplete beta function (a continued fraction, Numerical Recipes
  6.4), inverted by bisection to far below the printed precision.

An effect is `significant` when its interval excludes 0. Figures are floats: they are estimates, never money.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist, fmean, variance

CONFIDENCE = 0.95
Z = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)  # 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    diff: float  # treated minus holdout
    low: float
    high: float
    significant: bool  # the interval excludes 0


def _estimate(diff: float, low: float, high: float) -> Estimate:
    return Estimate(diff, low, high, low > 0 or high < 0)


def wilson_interval(*, hits: int, n: int) -> tuple[float, float]:
    """The Wilson score interval of the rate hits / n (n > 0) at CONFIDENCE."""
    p = hits / n
    centre = 2 * n * p + Z * Z
    spread = Z * math.sqrt(Z * Z + 4 * n * p * (1 - p))
    denominator = 2 * (n + Z * Z)
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


def proportion_diff(*, treated_hits: int, treated_n: int, holdout_hits: int, holdout_n: int) -> Estimate | None:
    """The difference of the conversion rates, treated minus holdout, with Newcombe's hybrid score interval.
    None when a group is empty (no estimate). Raises ValueError for hits outside 0..n."""
    for hits, n in ((treated_hits, treated_n), (holdout_hits, holdout_n)):
        if n < 0 or not 0 <= hits <= max(n, 0):
            raise ValueError(f"{hits} hits out of {n} is not a rate")
    if treated_n == 0 or holdout_n == 0:
        return None
    p1, p2 = treated_hits / treated_n, holdout_hits / holdout_n
    l1, u1 = wilson_interval(hits=treated_hits, n=treated_n)
    l2, u2 = wilson_interval(hits=holdout_hits, n=holdout_n)
    diff = p1 - p2
    low = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return _estimate(diff, low, high)


def mean_diff(
    *, treated_values: Sequence[float | Decimal], holdout_values: Sequence[float | Decimal]
) -> Estimate | None:
    """The difference of the means, treated minus holdout, with Welch's t interval. None when a group has fewer
    than two values (no spread to estimate). When neither group varies, the interval is the difference itself."""
    if len(treated_values) < 2 or len(holdout_values) < 2:
        return None
    a, b = [float(v) for v in treated_values], [float(v) for v in holdout_values]
    return mean_diff_summary(
        treated_mean=fmean(a), treated_variance=variance(a), treated_n=len(a),
        holdout_mean=fmean(b), holdout_variance=variance(b), holdout_n=len(b),
    )  # fmt: skip


def mean_diff_summary(
    *,
    treated_mean: float,
    treated_variance: float,
    treated_n: int,
    holdout_mean: float,
    holdout_variance: float,
    holdout_n: int,
) -> Estimate | None:
    """`mean_diff` from each group's mean, sample variance and size, as SQL aggregates give them (a campaign's
    groups are up to a million members: their values never travel to Python)."""
    if treated_n < 2 or holdout_n < 2:
        return None
    diff = treated_mean - holdout_mean
    va, vb = treated_variance / treated_n, holdout_variance / holdout_n
    if va + vb == 0:
        return _estimate(diff, diff, diff)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (treated_n - 1) + vb**2 / (holdout_n - 1))
    margin = t_quantile(df=df) * se
    return _estimate(diff, diff - margin, diff + margin)


def t_quantile(*, df: float, confidence: float = CONFIDENCE) -> float:
    """The two-sided critical value of Student's t with `df` (> 0, fractional allowed) degrees of freedom:
    P(|T| > t) = 1 - confidence. P(|T| > t) = I_x(df/2, 1/2) with x = df / (df + t^2), increasing in x, so bisect x
    (100 halvings reach far below float precision), then t = sqrt(df (1 - x) / x)."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    alpha = 1 - confidence
    low, high = 0.0, 1.0
    for _ in range(100):
        middle = (low + high) / 2
        if _betai(df / 2, 0.5, middle) < alpha:
            low = middle
        else:
            high = middle
    x = (low + high) / 2
    return math.sqrt(df * (1 - x) / x)


def _betai(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) (Numerical Recipes 6.4)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), by the modified Lentz method; converges fast for x < (a+1)/(a+b+2)."""
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h
