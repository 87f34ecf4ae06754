"""Member intelligence at a million members (SPEC 15, issue 21's figures).

(a) `clv_fit_and_score`: analytics.clv.scores.clv_compute on the bench-big shop of bench/generate.py (1M members,
    5M orders): the members' data from the orders (one pass: purchase days per member, the holdout's counts with
    them), both fits, the holdout check's fit, the scores of every member written (COPY, one upsert), the events
    of changed bands, then the deferred foreign-key checks of the rows written (made immediate, since the
    transaction is rolled back); seconds, with the time of each step. Then the same pass again (the nightly re-run:
    every row updated, no event). Target: under 60 s in all.
(b) `clv_member_list_*`: members.selectors.member_page (first page of 50, the default sort) and member_count with
    the filters {"churn_risk": ["high"]} and {"predicted_value_min": ...} over the scores just written; p95 of
    --runs runs after two warm-ups, ms. Target: page p95 < 200 ms.
(c) `clv_parameter_recovery`: 1M customers simulated from known BG/NBD and Gamma-Gamma parameters (fixed seed),
    fitted; the largest relative error over the seven parameters (target: within 1% of each), and the fit's time.

Everything in (a) and (b) runs in one transaction rolled back at the end: the scores' tables are created inside it
when the database has not migrated them, so the shared bench database is left as it was.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench_a REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/clv.py [--shop bench-big] [--runs 20] [--only score|recovery] [--explain]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

from harness import report, setup_django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class Rollback(Exception):
    pass


def out(scenario, figure, unit, _baseline=None, **extra):
    """One result line; these figures have no baseline run beside them (their targets are absolute)."""
    return report(scenario, figure=figure, baseline=0, unit=unit, **extra)


def p95(samples):
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def timed(work, runs):
    for _ in range(2):
        work()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def score(shop_slug: str, runs: int, explain: bool) -> None:
    from django.db import connection, transaction

    from analytics.clv import scores
    from analytics.models import ClvState, MemberClv
    from members.selectors import member_count, member_page
    from shops.selectors import shop_by_slug
    from shops.tenancy import shop_scope

    shop = shop_by_slug(slug=shop_slug)
    steps: dict[str, float] = {}

    def timer(name, fn):
        def wrapped(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                steps[name] = steps.get(name, 0) + time.perf_counter() - started

        return wrapped

    for name in ("member_summary", "fit_summary", "holdout_check", "_write", "_changed_events"):
        setattr(scores, name, timer(name, getattr(scores, name)))
    try:
        with shop_scope(shop), transaction.atomic():
            tables = connection.introspection.table_names()
            with connection.schema_editor() as editor:
                for model in (ClvState, MemberClv):
                    if model._meta.db_table not in tables:
                        editor.create_model(model)
            started = time.perf_counter()
            state = scores.clv_compute(shop=shop)
            # The foreign keys are checked at commit (deferred); the transaction is rolled back, so they are
            # checked here instead, and counted.
            with connection.cursor() as cursor:
                checks = time.perf_counter()
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                steps["deferred_checks"] = time.perf_counter() - checks
            total = time.perf_counter() - started
            inner_fit = steps.get("fit_summary", 0)
            out(
                "clv_fit_and_score",
                round(total, 2),
                "s",
                None,
                status=state.status,
                members=state.members_with_orders,
                history_days=state.history_days,
                steps={k: round(v, 2) for k, v in steps.items()},
                fit_seconds=round(inner_fit, 2),
                bgnbd=state.bgnbd,
                gamma_gamma=state.gamma_gamma,
                holdout_predicted=round(state.holdout.get("predicted_total", 0)),
                holdout_actual=round(state.holdout.get("actual_total", 0)),
                bands={b: MemberClv.objects.filter(shop=shop, churn_risk=b).count() for b in ("low", "medium", "high")},
            )
            steps.clear()
            started = time.perf_counter()
            scores.clv_compute(shop=shop)
            out("clv_rerun", round(time.perf_counter() - started, 2), "s", None,
                   steps={k: round(v, 2) for k, v in steps.items()})  # fmt: skip
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE analytics_memberclv")
            for name, definition in (
                ("churn_high", {"churn_risk": ["high"]}),
                ("value_min_500", {"predicted_value_min": "500"}),
            ):
                page = timed(lambda d=definition: member_page(shop=shop, definition=d), runs)
                count = timed(lambda d=definition: member_count(shop=shop, definition=d), max(runs // 4, 3))
                members = member_count(shop=shop, definition=definition)
                if explain:
                    from members.filters import member_filter

                    qs = member_filter(shop=shop, definition=definition).order_by("-joined_at", "-id")[:51]
                    print(qs.explain(analyze=True, buffers=True), file=sys.stderr)
                out(f"clv_member_list_{name}", p95(page), "ms", count_p95_ms=round(p95(count), 1), members=members)
            raise Rollback
    except Rollback:
        pass


def recovery() -> None:
    from analytics.clv.fitting import bgnbd_fit, gamma_gamma_fit
    from tests.analytics.test_clv import simulate

    truth = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5, "p": 6.0, "q": 4.0, "gamma": 15.0}
    x, t_x, T, m = simulate(1_000_000, T=104, seed=2026, **truth)
    started = time.perf_counter()
    fitted = {**bgnbd_fit(x, t_x, T).params(), **gamma_gamma_fit(x, m).params()}
    seconds = time.perf_counter() - started
    errors = {k: round(abs(v / truth[k] - 1) * 100, 3) for k, v in fitted.items()}
    out("clv_parameter_recovery", max(errors.values()), "% max error", None, seconds=round(seconds, 2),
           fitted={k: round(v, 4) for k, v in fitted.items()}, errors_percent=errors)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shop", default="bench-big")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only", choices=["score", "recovery"])
    parser.add_argument("--explain", action="store_true", help="the member list queries' plans, to stderr")
    args = parser.parse_args()
    setup_django()
    if args.only in (None, "recovery"):
        recovery()
    if args.only in (None, "score"):
        score(args.shop, args.runs, args.explain)


if __name__ == "__main__":
    main()
