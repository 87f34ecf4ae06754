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
from scipy.special import digamma, gammaln, hyp2f1


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


def bgnbd_log_likelihood(params, x, t_x, T, *, gradient: bool = False, index=None):
    """Each customer's log-likelihood (FHL 2005, equation 6), parameters (r, alpha, a, b); with `gradient`, also its
    derivatives by the logarithms of the parameters (a 4 x rows array), for the optimiser. `index`: the distinct
    values of x and each row's position among them (np.unique), given by the optimiser once for all its calls."""
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    # The special functions depend on x alone, which takes a few dozen values among a million rows: computed once
    # per value, they no longer dominate an evaluation.
    ux, inv = index if index is not None else np.unique(x, return_inverse=True)
    a1 = (gammaln(r + ux))[inv] - gammaln(r) + r * np.log(alpha)
    a2 = (gammaln(b + ux) - gammaln(a + b + ux))[inv] - gammaln(b) + gammaln(a + b)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    # The second term exists only for repeat buyers (the chance of dropping out right after the last purchase);
    # b + x - 1 is computed where it is positive only, so x = 0 rows never take the log of a negative number.
    safe = np.where(repeat, b + x - 1, 1.0)
    a4 = np.log(a) - np.log(safe) - (r + x) * np.log(alpha + t_x)
    mixed = np.where(repeat, np.logaddexp(a3, a4), a3)
    ll = a1 + a2 + mixed
    if not gradient:
        return ll
    w4 = np.where(repeat, np.exp(a4 - mixed), 0.0)  # the share of the second term
    w3 = 1.0 - w4
    d_r = digamma(r + ux)[inv] - digamma(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + t_x)
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    d_a = digamma(a + b) - digamma(a + b + ux)[inv] + w4 / a
    d_b = (digamma(b + ux) - digamma(a + b + ux))[inv] - digamma(b) + digamma(a + b) - w4 / safe
    return ll, np.stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])


def _fit(log_likelihood, w: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The maximum of the weighted log-likelihood, searched in log space by L-BFGS-B with the analytic gradient
    (a few dozen evaluations where Nelder-Mead needed thousands: minutes on a million members)."""
    total = w.sum()

    def objective(log_params):
        ll, grad = log_likelihood(np.exp(log_params), gradient=True)
        value = -(w * ll).sum() / total
        if not np.isfinite(value):
            return 1e100, np.zeros_like(log_params)
        return value, -(grad * w).sum(axis=1) / total

    result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=[(-20.0, 20.0)] * len(start),
                      options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000})  # fmt: skip
    if not np.isfinite(result.fun) or result.fun >= 1e99:
        raise FitFailed("the likelihood could not be maximised")
    return np.exp(result.x)


def bgnbd_fit(x, t_x, T) -> BgNbd:
    """The maximum-likelihood BG/NBD parameters. Raises FitFailed."""
    (x, t_x, T), w = collapse(x, t_x, T)
    if w.sum() == 0:
        raise FitFailed("no customers")
    scale = float(np.average(T, weights=w)) or 1.0
    index = np.unique(x, return_inverse=True)
    params = _fit(lambda p, gradient: bgnbd_log_likelihood(p, x, t_x, T, gradient=gradient, index=index), w,
                  np.log([1.0, scale, 1.0, 1.0]))  # fmt: skip
    return BgNbd(*map(float, params), log_likelihood=float((w * bgnbd_log_likelihood(params, x, t_x, T)).sum()))


def gamma_gamma_log_likelihood(params, x, m, *, gradient: bool = False, index=None):
    """Each repeat customer's log-likelihood of the mean m of x purchases (Fader and Hardie 2013, equation 3); with
    `gradient`, also its derivatives by the logarithms of (p, q, gamma)."""
    p, q, gamma = params
    x = np.asarray(x, dtype=float)
    ux, inv = index if index is not None else np.unique(x, return_inverse=True)
    px = p * x
    log_gamma_mx = np.log(gamma + m * x)
    ll = (
        (gammaln(p * ux + q) - gammaln(p * ux))[inv] - gammaln(q) + q * np.log(gamma)
        + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * log_gamma_mx
    )  # fmt: skip
    if not gradient:
        return ll
    d_p = x * ((digamma(p * ux + q) - digamma(p * ux))[inv] + np.log(m) + np.log(x) - log_gamma_mx)
    d_q = digamma(p * ux + q)[inv] - digamma(q) + np.log(gamma) - log_gamma_mx
    d_gamma = q / gamma - (px + q) / (gamma + m * x)
    return ll, np.stack([d_p * p, d_q * q, d_gamma * gamma])


def gamma_gamma_fit(x, m) -> GammaGamma:
    """The maximum-likelihood Gamma-Gamma parameters over customers with x > 0 and m > 0. Raises FitFailed."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0)
    (x, m), w = collapse(x[keep], m[keep])
    if w.sum() == 0:
        raise FitFailed("no repeat customers")
    start = np.log([1.0, 1.0, float(np.average(m, weights=w))])
    index = np.unique(x, return_inverse=True)
    params = _fit(lambda p, gradient: gamma_gamma_log_likelihood(p, x, m, gradient=gradient, index=index), w, start)
    return GammaGamma(*map(float, params), log_likelihood=float((w * gamma_gamma_log_likelihood(params, x, m)).sum()))


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
