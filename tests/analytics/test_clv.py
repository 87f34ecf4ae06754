"""Member intelligence (SPEC 15): the BG/NBD and Gamma-Gamma fits reproduce the papers on the CDNOW sample entered
through the order-recording path, recover known parameters from simulated data, and the closed forms give the
published predictions; the nightly scoring keeps the minimum-data rule, handles refunds and single orders, and is
idempotent (the churn-risk events are written once)."""

import datetime
import io
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.clv import scores
from analytics.clv.data import member_summary
from analytics.clv.fitting import (
    BgNbd,
    GammaGamma,
    bgnbd_fit,
    expected_purchases,
    expected_spend,
    gamma_gamma_fit,
    p_alive,
    predicted_value,
)
from analytics.models import ChurnRisk, ClvState, ClvStatus, MemberClv
from events.models import Event
from orders.models import Order
from orders.services import OrderInput, RefundInput, orders_record, refund_record
from shops.time import wall_instant

CDNOW = Path(__file__).resolve().parent.parent / "fixtures" / "cdnow" / "CDNOW_sample.txt"
# Orders before 2000 are refused as typing mistakes (orders.services.EARLIEST_PAID_AT): the CDNOW days (1997-1998)
# move forward by a whole number of days, which keeps every interval the models see.
SHIFT = datetime.timedelta(days=10_000)
PUBLISHED = BgNbd(r=0.2426, alpha=4.4136, a=0.7929, b=2.4259, log_likelihood=-9582.4)


def record(shop, rows):
    """Orders (phone, day, amount, external id) through orders_record, as the bulk API records them, by 1,000, the
    buyers enrolled on purchase (the shop's setting)."""
    shop.join_on_purchase = True
    shop.save(update_fields=["join_on_purchase"])
    inputs = [
        OrderInput(external_id=ext, amount=Decimal(amount), paid_at=wall_instant(shop, day, datetime.time(12)),
                   phone=phone)
        for phone, day, amount, ext in rows
    ]  # fmt: skip
    for start in range(0, len(inputs), 1000):
        for result in orders_record(shop=shop, orders=inputs[start : start + 1000]):
            assert not isinstance(result, Exception), result


def cdnow_rows():
    rows, seen = [], defaultdict(int)
    for line in CDNOW.read_text().splitlines():
        _master, customer, day, _quantity, amount = line.split()
        seen[customer] += 1
        paid = datetime.date(int(day[:4]), int(day[4:6]), int(day[6:])) + SHIFT
        rows.append((f"+86139{int(customer):08d}", paid, amount, f"CD-{customer}-{seen[customer]}"))
    return rows


def test_cdnow_reproduces_the_published_fits(shop):
    record(shop, cdnow_rows())
    out = io.StringIO()
    end = datetime.date(1997, 9, 30) + SHIFT
    call_command(
        "clv_fit", "--shop", shop.slug, "--calibration-end", end.isoformat(), "--time-unit", "week", stdout=out
    )
    fit = json.loads(out.getvalue())
    assert fit["members"] == 2357
    assert fit["repeat_members"] == 946
    bg, gg = fit["bgnbd"], fit["gamma_gamma"]
    assert (round(bg["r"], 3), round(bg["alpha"], 3), round(bg["a"], 3), round(bg["b"], 3)) == (
        0.243, 4.414, 0.793, 2.426
    )  # fmt: skip
    assert (round(gg["p"], 2), round(gg["q"], 2), round(gg["gamma"], 2)) == (6.25, 3.74, 15.44)
    # The log-likelihoods the papers give, and their predictions with the parameters fitted here.
    summary = member_summary(shop=shop, calibration_end=end)
    model = bgnbd_fit(summary.x, summary.t_x / 7, summary.T / 7)
    assert round(model.log_likelihood, 1) == -9582.4
    spend = gamma_gamma_fit(summary.x, summary.m)
    assert round(spend.log_likelihood, 1) == -4055.9
    assert round(float(expected_purchases(model, 39, 2, 30.43, 38.86)), 4) == 1.2259
    assert round(float(expected_spend(spend, 2, 22.35)), 2) == 24.66


def test_closed_forms_against_the_paper():
    # FHL 2005 section 5: with the published parameters, a customer with x = 2, t_x = 30.43, T = 38.86 is expected
    # to make 1.2259 purchases in the next 39 weeks; P(alive) by equation 11 computed by hand: 1 / (1 + a / (b + 1)
    # * ((alpha + T) / (alpha + t_x)) ** (r + 2)).
    model = BgNbd(r=0.242594, alpha=4.413595, a=0.792919, b=2.425907, log_likelihood=0)
    assert round(float(expected_purchases(model, 39, 2, 30.43, 38.86)), 4) == 1.2259
    by_hand = 1 / (1 + 0.792919 / 3.425907 * ((4.413595 + 38.86) / (4.413595 + 30.43)) ** 2.242594)
    assert float(p_alive(model, 2, 30.43, 38.86)) == pytest.approx(by_hand, rel=1e-12)
    assert float(p_alive(model, 0, 0, 38.86)) == 1.0
    # Fader and Hardie 2013: E(M) = (q - 1) / (px + q - 1) * p gamma / (q - 1) + px / (px + q - 1) * m
    gg = GammaGamma(p=6.25, q=3.74, gamma=15.44, log_likelihood=0)
    hand = 2.74 / 15.24 * (6.25 * 15.44 / 2.74) + 12.5 / 15.24 * 22.35
    assert float(expected_spend(gg, 2, 22.35)) == pytest.approx(hand, rel=1e-12)
    # Undiscounted, the predicted value is the 12 months' expected purchases times the expected spend.
    months = expected_purchases(model, 365.25 / 7, 2, 30.43, 38.86) * expected_spend(gg, 2, 22.35)
    value = predicted_value(model, gg, x=2, t_x=30.43, T=38.86, m=22.35, unit_days=7, annual_discount=0)
    assert float(value) == pytest.approx(float(months), rel=1e-9)


def simulate(n, *, r, alpha, a, b, p, q, gamma, T, seed):
    """Customers drawn from the models' own stories: purchase rate ~ Gamma(r, alpha), dropout after each purchase
    with probability ~ Beta(a, b), spend per purchase ~ Gamma(p, nu) with nu ~ Gamma(q, gamma)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    drop = rng.beta(a, b, n)
    nu = rng.gamma(q, 1 / gamma, n)
    x, t_x, m = np.zeros(n), np.zeros(n), np.zeros(n)
    now, alive = np.zeros(n), np.ones(n, dtype=bool)
    while alive.any():
        now = now + rng.exponential(1 / np.maximum(lam, 1e-12))
        buys = alive & (now < T)
        x += buys
        t_x = np.where(buys, now, t_x)
        m += np.where(buys, rng.gamma(p, 1 / nu), 0)
        alive = buys & (rng.random(n) >= drop)
    return x, t_x, np.full(n, float(T)), np.divide(m, x, out=np.zeros(n), where=x > 0)


def test_fit_recovers_simulated_parameters():
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5, "p": 6.0, "q": 4.0, "gamma": 15.0}
    x, t_x, T, m = simulate(60_000, T=52, seed=21, **truth)
    bg = bgnbd_fit(x, t_x, T)
    gg = gamma_gamma_fit(x, m)
    for name, value in {**bg.params(), **gg.params()}.items():
        assert value == pytest.approx(truth[name], rel=0.06), name


# --- The nightly scoring --------------------------------------------------------------------------------------------

NOW = datetime.datetime(2026, 6, 1, 3, tzinfo=datetime.UTC)


def simulated_shop(shop, *, members=300, seed=7):
    """Members of simulated buying habits over 300 days ending the day before NOW, recorded as orders."""
    x, t_x, _T, m = simulate(members, r=0.8, alpha=20, a=0.5, b=3, p=5, q=4, gamma=60, T=300, seed=seed)
    rng = np.random.default_rng(seed)
    end = datetime.date(2026, 5, 31)
    rows = []
    for i in range(members):
        first = end - datetime.timedelta(days=int(rng.integers(200, 300)))
        days = sorted({0, *rng.integers(1, max(int(t_x[i]), 1) + 1, int(x[i])).tolist()})
        for k, d in enumerate(days):
            rows.append(
                (f"+86138{i:08d}", first + datetime.timedelta(days=d), f"{20 + (m[i] or 30):.2f}", f"S-{i}-{k}")
            )
    record(shop, rows)


@pytest.fixture
def small_rule(monkeypatch):
    monkeypatch.setattr(scores, "MIN_MEMBERS", 100)


def test_scores_are_written_and_a_second_pass_changes_nothing(shop, small_rule):
    simulated_shop(shop)
    state = scores.clv_compute(shop=shop, now=NOW)
    assert state.status == ClvStatus.FITTED
    assert state.members_with_orders == 300
    rows = list(MemberClv.objects.filter(shop=shop).order_by("member_id").values())
    assert len(rows) == 300
    assert {r["churn_risk"] for r in rows} <= set(ChurnRisk.values)
    assert all(0 <= r["p_alive"] <= 1 and r["predicted_value"] >= 0 for r in rows)
    assert {r["previous_churn_risk"] for r in rows} == {""}
    assert not Event.objects.filter(shop=shop, type="member.churn_risk_changed").exists()
    assert [b["bucket"] for b in state.holdout["buckets"]] == ["0", "1", "2", "3", "4", "5", "6", "7+"]

    again = scores.clv_compute(shop=shop, now=NOW + datetime.timedelta(minutes=5))
    assert again.bgnbd == state.bgnbd
    after = list(MemberClv.objects.filter(shop=shop).order_by("member_id").values())
    strip = ("computed_at", "previous_churn_risk")
    assert [{k: v for k, v in r.items() if k not in strip} for r in after] == [
        {k: v for k, v in r.items() if k not in strip} for r in rows
    ]
    assert not Event.objects.filter(shop=shop, type="member.churn_risk_changed").exists()


def test_a_band_change_writes_one_event(shop, small_rule):
    simulated_shop(shop)
    scores.clv_compute(shop=shop, now=NOW)
    # Months later without a purchase, the same members' bands move: each move is one event {from, to}.
    later = NOW + datetime.timedelta(days=200)
    scores.clv_compute(shop=shop, now=later)
    changed = list(MemberClv.objects.filter(shop=shop).exclude(churn_risk=models_f("previous_churn_risk")))
    events = Event.objects.filter(shop=shop, type="member.churn_risk_changed")
    assert changed and events.count() == len(changed)
    payloads = {e.member_id: e.payload for e in events}
    for row in changed:
        assert payloads[row.member_id] == {"from": row.previous_churn_risk, "to": row.churn_risk}
    scores.clv_compute(shop=shop, now=later + datetime.timedelta(minutes=1))
    assert Event.objects.filter(shop=shop, type="member.churn_risk_changed").count() == len(changed)


def models_f(name):
    from django.db.models import F

    return F(name)


def test_minimum_data_rule(shop):
    simulated_shop(shop, members=120)
    state = scores.clv_compute(shop=shop, now=NOW)
    assert (state.status, state.members_with_orders) == (ClvStatus.INSUFFICIENT, 120)
    assert state.bgnbd == {}
    assert not MemberClv.objects.filter(shop=shop).exists()


def test_a_shop_whose_orders_are_all_refunded(shop, small_rule):
    simulated_shop(shop, members=120)
    for order in Order.objects.filter(shop=shop):
        refund_record(shop=shop, order=order, data=RefundInput(external_id=f"R-{order.pk}", amount=order.amount))
    state = scores.clv_compute(shop=shop, now=NOW)
    assert (state.status, state.members_with_orders, state.history_days) == (ClvStatus.INSUFFICIENT, 0, 0)
    assert not MemberClv.objects.filter(shop=shop).exists()


def test_a_member_with_a_single_order(shop, small_rule):
    simulated_shop(shop)
    record(shop, [("+8613700000001", datetime.date(2025, 6, 1), "88.00", "ONE-1")])
    scores.clv_compute(shop=shop, now=NOW)
    row = MemberClv.objects.get(shop=shop, member__phone="+8613700000001")
    # One purchase 364 days before the end: no repeat, P(alive) 1 by the model, high risk by the shop's rhythm.
    assert (row.frequency, row.recency_days, row.age_days, row.p_alive) == (0, 0, 364, 1.0)
    rhythm = ClvState.objects.get(shop=shop).holdout["rhythm_days"]
    assert scores.RHYTHM_HIGH * rhythm < 364
    assert row.churn_risk == ChurnRisk.HIGH
    assert row.predicted_value > 0


def test_scores_are_the_shops_own(shop, other_shop, small_rule):
    simulated_shop(shop)
    scores.clv_compute(shop=shop, now=NOW)
    state = scores.clv_compute(shop=other_shop, now=NOW)
    assert state.status == ClvStatus.INSUFFICIENT
    assert MemberClv.objects.filter(shop=shop).count() == 300
    assert not MemberClv.objects.filter(shop=other_shop).exists()


def test_due_once_per_local_day(shop):
    assert scores.clv_due(shop=shop, now=NOW)
    scores.clv_compute(shop=shop, now=NOW)
    assert not scores.clv_due(shop=shop, now=NOW + datetime.timedelta(hours=1))
    assert scores.clv_due(shop=shop, now=NOW + datetime.timedelta(days=1))
    assert timezone.is_aware(ClvState.objects.get(shop=shop).computed_at)


def test_the_nightly_task_scores_once_per_day(shop):
    from django.conf import settings

    from analytics.tasks import analytics_clv_shop

    assert settings.CELERY_BEAT_SCHEDULE["analytics-clv"]["task"] == "analytics.tasks.analytics_clv_all_shops"
    assert analytics_clv_shop(shop.pk) is True
    assert ClvState.objects.get(shop=shop).status == ClvStatus.INSUFFICIENT
    assert analytics_clv_shop(shop.pk) is False
