"""BG/NBD (Fader, Hardie and Lee 2005, "Counting your customers the easy way") and Gamma-Gamma (Fader, Hardie and
Lee 2005, "RFM and CLV"; Fader and Hardie 2013, "The Gamma-Gamma model of monetary value"), fitted by maximum
likelihood with numpy and scipy. Pure functions over arrays: no database here (analytics.clv.data reads the orders).

Inputs per customer: x, the repeat purchases (purchase days after the first); t_x, the time of the last purchase
after the first; T, the time from the first purchase to the end of the calibration period; all in one time unit.

Fitting: the parameters are optimised in log space (all four/three are positive), and identical rows are collapsed
into weights first (a million members hold a few hundred thousand distinct (x, t_x, T) rows in days, and far fewer
in weeks), so one likelihood evaluation costs the distinct rows, not the members."""

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1


class FitFailed(Exception):
    """The optimiser did not converge (too little or degenerate data)."""


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float

    def params(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "log_likelihood"}


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float
    log_likelihood: float

    def params(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "log_likelihood"}


def collapse(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of the columns and how many times each occurs."""
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    rows, weights = np.unique(stacked, axis=0, return_counts=True)
    return [rows[:, i] for i in range(rows.shape[1])], weights.astype(float)


def bgnbd_log_likelihood(params, x, t_x, T) -> np.ndarray:
    """Each customer's log-likelihood (FHL 2005, equation 6), parameters (r, alpha, a, b)."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    # The second term exists only for repeat buyers (the chance of dropping out right after the last purchase);
    # b + x - 1 is computed where it is positive only, so x = 0 rows never take the log of a negative number.
    safe = np.where(repeat, b + x - 1, 1.0)
    a4 = np.log(a) - np.log(safe) - (r + x) * np.log(alpha + t_x)
    return a1 + a2 + np.where(repeat, np.logaddexp(a3, a4), a3)


def _fit(negative_ll, start: np.ndarray, total: float) -> np.ndarray:
    def objective(log_params):
        value = negative_ll(np.exp(log_params)) / total
        return value if np.isfinite(value) else 1e100

    best = None
    # Nelder-Mead from the start, then again from its result: the simplex restarts escape the flat valleys the
    # likelihood has in a and b, and the published CDNOW parameters are reached to four significant figures.
    point = start
    for _ in range(3):
        result = minimize(objective, point, method="Nelder-Mead",
                          options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 20000, "maxfev": 40000})  # fmt: skip
        if best is not None and abs(best.fun - result.fun) < 1e-12:
            best = result
            break
        best, point = result, result.x
    if best is None or not np.isfinite(best.fun) or best.fun >= 1e99:
        raise FitFailed("the likelihood could not be maximised")
    return np.exp(best.x)


def bgnbd_fit(x, t_x, T) -> BgNbd:
    """The maximum-likelihood BG/NBD parameters. Raises FitFailed."""
    (x, t_x, T), w = collapse(x, t_x, T)
    if w.sum() == 0:
        raise FitFailed("no customers")

    def negative_ll(params):
        return -(w * bgnbd_log_likelihood(params, x, t_x, T)).sum()

    scale = float(np.average(T, weights=w)) or 1.0
    params = _fit(negative_ll, np.log([1.0, scale, 1.0, 1.0]), w.sum())
    return BgNbd(*map(float, params), log_likelihood=float(-negative_ll(params)))


def gamma_gamma_log_likelihood(params, x, m) -> np.ndarray:
    """Each repeat customer's log-likelihood of the mean m of x purchases (Fader and Hardie 2013, equation 3)."""
    p, q, gamma = params
    px = p * x
    return (
        gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
        + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(gamma + m * x)
    )  # fmt: skip


def gamma_gamma_fit(x, m) -> GammaGamma:
    """The maximum-likelihood Gamma-Gamma parameters over customers with x > 0 and m > 0. Raises FitFailed."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0)
    (x, m), w = collapse(x[keep], m[keep])
    if w.sum() == 0:
        raise FitFailed("no repeat customers")

    def negative_ll(params):
        return -(w * gamma_gamma_log_likelihood(params, x, m)).sum()

    params = _fit(negative_ll, np.log([1.0, 1.0, float(np.average(m, weights=w))]), w.sum())
    return GammaGamma(*map(float, params), log_likelihood=float(-negative_ll(params)))


# --- Predictions ---------------------------------------------------------------------------------------------------


def p_alive(model: BgNbd, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) (FHL 2005, equation 11 / the 2008 note): 1 for customers without a repeat purchase."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    repeat = x > 0
    safe = np.where(repeat, model.b + x - 1, 1.0)
    log_ratio = np.log(model.a) - np.log(safe) + (model.r + x) * (np.log(model.alpha + T) - np.log(model.alpha + t_x))
    return np.where(repeat, 1.0 / (1.0 + np.exp(np.minimum(log_ratio, 700.0))), 1.0)


def expected_purchases(model: BgNbd, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: the expected purchases in the next t time units (FHL 2005, equation 10)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    t = np.asarray(t, dtype=float)
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1)
    tail = 1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    return head * tail * p_alive(model, x, t_x, T)


def expected_spend(model: GammaGamma, x, m) -> np.ndarray:
    """E[M | p, q, gamma, m_x, x]: the expected value of a future purchase (Fader and Hardie 2013, equation 5). A
    customer without repeat purchases gets the population mean p * gamma / (q - 1)."""
    p, q, gamma = model.p, model.q, model.gamma
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    m = np.where(x > 0, m, 0.0)
    return p * (gamma + m * x) / (p * x + q - 1)


def predicted_value(
    bgnbd: BgNbd, gg: GammaGamma, *, x, t_x, T, m, unit_days: float, months: int = 12, annual_discount: float = 0.1
) -> np.ndarray:
    """The discounted value of the next `months` months: each month's expected purchases times the expected spend,
    discounted at the monthly rate equivalent to `annual_discount` and counted at the end of its month."""
    spend = expected_spend(gg, x, m)
    monthly = (1 + annual_discount) ** (1 / 12) - 1
    month = 365.25 / 12 / unit_days
    total = np.zeros(np.shape(np.asarray(x, dtype=float)))
    previous = np.zeros_like(total)
    for i in range(1, months + 1):
        cumulative = expected_purchases(bgnbd, i * month, x, t_x, T)
        total += (cumulative - previous) / (1 + monthly) ** i
        previous = cumulative
    return total * spend
