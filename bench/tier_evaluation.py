"""Tier evaluation at a million members (tiers.evaluation), beside the same result computed by hand in raw SQL.

On the bench-big shop of bench/generate.py (1,000,000 members, 5,000,000 orders, the default ladder: spend >= 500,
>= 2,000 and >= 5 orders, >= 5,000 in the last 12 months):

(a) tier_evaluation_full: tiers_evaluate(mode=full) on members without tiers (as generated), the first evaluation
    of a shop, which upgrades about 650,000 members. Baseline: the same result written by hand in one statement
    (the 12-month aggregates, the qualified rank, UPDATE ... FROM, INSERT of the history rows).
(b) tier_evaluation_daily: the evaluation of the day after: the shop evaluated one day ago (its rows then aged to
    before that run, as in a shop evaluated every night), then a day of changes
    recorded through orders.services (0.3% of members buy once: the orders' effects upgrade them at once; 300
    partial refunds), and the 12-month window moved on by a day; then tiers_evaluate(mode=incremental) against
    the raw recompute of every member (baseline (a)'s statement) on that same state.

Each timed run happens in a transaction that is rolled back afterwards (foreign-key checks made immediate, so that
they are timed as a commit would run them), so every round starts from the same data and bench-big is left as
generated; VACUUM runs between rounds of (a). Figures are seconds (lower is better), the best of --rounds;
ratio = ours / baseline. Both runs of a round must leave the same tier distribution (checked).
Targets: (a) ratio <= 1.5, (b) ratio <= 0.1.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/tier_evaluation.py [--shop bench-big] [--rounds 2] [--only full,daily] [--explain]
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from decimal import Decimal

from harness import report, setup_django

FULL_TARGET = 1.5
DAILY_TARGET = 0.1
BUYERS_SHARE = 0.003
REFUNDS = 300


def raw_recompute(cursor, *, shop_id: int, zone, tiers: list[tuple], now) -> int:
    """The evaluation of every member, written by hand for this ladder (12-month window, spend/orders thresholds,
    one retention period), with the session settings ours uses (JIT off, work_mem 256MB): returns the history
    rows written."""
    from orders.services import WINDOW_12M
    from shops.time import add_months

    ids = {rank: pk for pk, rank, *_ in tiers}
    rank_of = " ".join(f"WHEN {pk} THEN {rank}" for pk, rank, *_ in tiers if rank)
    tier_of = " ".join(f"WHEN {rank} THEN {pk}" for pk, rank, *_ in tiers if rank)
    qualify = " ".join(
        f"WHEN COALESCE(a.spend, 0) >= {spend}{f' AND COALESCE(a.n, 0) >= {orders}' if orders else ''} THEN {rank}"
        for _pk, rank, spend, orders, _months in sorted(tiers, key=lambda t: -t[1])
        if rank
    )
    months = {t[4] for t in tiers if t[1]}
    assert len(months) == 1 and ids  # one retention period: one new tier_until
    until = add_months(zone, now, months.pop())
    cursor.execute("SET LOCAL jit = off")
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute(
        f"""WITH a AS (
                SELECT member_id, SUM(amount - refunded_amount) AS spend, COUNT(*) AS n FROM orders_order
                WHERE shop_id = %(shop)s AND member_id IS NOT NULL AND paid_at >= %(since)s
                  AND status IN ('paid', 'completed', 'partially_refunded')
                GROUP BY member_id),
            q AS (
                SELECT m.id, m.tier_id AS old_tier, m.tier_until AS old_until,
                       CASE m.tier_id {rank_of} ELSE 0 END AS c, CASE {qualify} ELSE 0 END AS q
                FROM members_member m LEFT JOIN a ON a.member_id = m.id
                WHERE m.shop_id = %(shop)s AND m.status <> 'erased'),
            r AS (
                SELECT q.*, CASE WHEN q > c THEN 'upgrade'
                    WHEN q < c AND old_until <= %(now)s THEN 'downgrade'
                    WHEN c > 0 AND old_until <= %(now)s THEN 'renew' END AS reason
                FROM q),
            ch AS (
                SELECT id, c, old_tier, reason,
                       CASE WHEN reason = 'renew' THEN old_tier ELSE CASE q {tier_of} END END AS new_tier,
                       CASE WHEN reason = 'renew' OR q > 0 THEN %(until)s::timestamptz END AS new_until
                FROM r WHERE reason IS NOT NULL),
            u AS (
                UPDATE members_member m SET tier_id = ch.new_tier, tier_until = ch.new_until, updated_at = %(now)s
                FROM ch WHERE m.id = ch.id
                RETURNING m.id, ch.c, ch.old_tier, ch.new_tier, ch.reason),
            h AS (
                INSERT INTO tiers_tierchange (shop_id, member_id, from_tier_id, to_tier_id, reason, note, actor,
                                              changed_at)
                SELECT %(shop)s, u.id, CASE WHEN u.c = 0 THEN NULL ELSE u.old_tier END, u.new_tier, u.reason, '',
                       'system', %(now)s
                FROM u WHERE u.reason <> 'renew'
                RETURNING 1)
            SELECT COUNT(*) FROM h""",
        {"shop": shop_id, "since": now - WINDOW_12M, "now": now, "until": until},
    )
    return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shop", default="bench-big")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default="full,daily")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE of the incremental run's statements")
    args = parser.parse_args()

    setup_django()
    from django.db import connection, transaction
    from django.utils import timezone

    from orders.models import Order
    from orders.services import OrderInput, RefundInput, orders_record, refund_record
    from shops.selectors import shop_by_slug
    from shops.tenancy import shop_scope
    from shops.time import shop_zone
    from tiers.evaluation import OVERLAP, ladder_tiers, tiers_evaluate
    from tiers.models import EvaluationMode

    shop = shop_by_slug(slug=args.shop)
    with shop_scope(shop):
        tiers = [(t.pk, t.rank, t.min_spend, t.min_orders, t.retention_months) for t in ladder_tiers(shop=shop)]

    def sql(statement: str, params=None) -> list:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    members = sql("SELECT count(*) FROM members_member WHERE shop_id = %s", [shop.pk])[0][0]
    assert (
        sql("SELECT count(*) FROM members_member WHERE shop_id = %s AND tier_id IS NOT NULL", [shop.pk])[0][0] == 0
    ), "bench-big should be as generated (no tiers): a previous run did not roll back?"

    def distribution() -> dict:
        rows = sql(
            "SELECT COALESCE(tier_id, 0), count(*) FROM members_member WHERE shop_id = %s AND status <> 'erased' "
            "GROUP BY 1 ORDER BY 1",
            [shop.pk],
        )
        return {str(tier): n for tier, n in rows}

    def timed(work) -> tuple[float, object, dict]:
        """Run `work` in a transaction (FK checks immediate), then roll it back. Returns seconds, its result and
        the tier distribution it left."""
        with transaction.atomic():
            sql("SET CONSTRAINTS ALL IMMEDIATE")
            started = time.perf_counter()
            result = work()
            elapsed = time.perf_counter() - started
            seen = distribution()
            transaction.set_rollback(True)
        return elapsed, result, seen

    def vacuum() -> None:
        sql("VACUUM ANALYZE members_member")
        sql("VACUUM ANALYZE tiers_tierchange")

    def ours_full(now):
        with shop_scope(shop):
            return tiers_evaluate(shop=shop, mode=EvaluationMode.FULL, now=now).upgraded

    def raw_full(now):
        with connection.cursor() as cursor:
            return raw_recompute(cursor, shop_id=shop.pk, zone=shop_zone(shop), tiers=tiers, now=now)

    if "full" in args.only:
        ours, base = [], []
        for _ in range(args.rounds):
            now = timezone.now()
            t_ours, upgraded, d_ours = timed(lambda now=now: ours_full(now))
            vacuum()
            t_base, written, d_base = timed(lambda now=now: raw_full(now))
            vacuum()
            assert d_ours == d_base, (d_ours, d_base)
            assert upgraded == written, (upgraded, written)
            ours.append(t_ours)
            base.append(t_base)
        report(
            "tier_evaluation_full",
            figure=min(ours),
            baseline=min(base),
            unit="s (all members, from no tiers)",
            rounds_s=[round(x, 1) for x in ours],
            baseline_rounds_s=[round(x, 1) for x in base],
            members=members,
            upgraded=upgraded,
            distribution=d_ours,
            target=FULL_TARGET,
            target_met=min(ours) / min(base) <= FULL_TARGET,
            load_avg=[round(x, 2) for x in os.getloadavg()],
        )

    if "daily" in args.only:
        rng = random.Random(args.seed)
        now = timezone.now()
        yesterday = now - timedelta(days=1)
        with transaction.atomic():
            sql("SET CONSTRAINTS ALL IMMEDIATE")
            # Yesterday's evaluation (not timed).
            started = time.perf_counter()
            with shop_scope(shop):
                tiers_evaluate(shop=shop, mode=EvaluationMode.FULL, now=yesterday)
            # The rows as they stand in a shop evaluated every night: last changed before yesterday's run. (The
            # generator stamps every row with its own time, and this first evaluation of bench-big moved 650,000
            # members; in the steady state a night's run moves a few, and only rows changed since are looked at.)
            sql(
                "UPDATE members_member SET updated_at = %s WHERE shop_id = %s",
                [yesterday - OVERLAP - timedelta(minutes=1), shop.pk],
            )
            sql("ANALYZE members_member")  # as autovacuum would have: the planner sees the stamps' real spread
            setup_s = {"yesterday_full": round(time.perf_counter() - started, 1)}
            # A day of changes, through the services (not timed).
            started = time.perf_counter()
            ids = [row[0] for row in sql("SELECT id FROM members_member WHERE shop_id = %s", [shop.pk])]
            buyers = rng.sample(ids, int(len(ids) * BUYERS_SHARE))
            run = f"{int(time.time()) % 10**8:08d}"
            orders = [
                OrderInput(
                    external_id=f"TIERDAY{run}-{i}",
                    member_id=member_id,
                    amount=Decimal(rng.randrange(2000, 120000)) / 100,
                    paid_at=now - timedelta(minutes=rng.randrange(1, 24 * 60)),
                )
                for i, member_id in enumerate(buyers)
            ]
            with shop_scope(shop):
                for i in range(0, len(orders), 1000):
                    orders_record(shop=shop, orders=orders[i : i + 1000])
                refundable = sql(
                    "SELECT id FROM orders_order WHERE shop_id = %s AND status = 'paid' AND member_id IS NOT NULL "
                    "AND paid_at >= %s AND amount >= 20 ORDER BY id LIMIT 20000",
                    [shop.pk, now - timedelta(days=300)],
                )
                for i, (order_id,) in enumerate(rng.sample(refundable, REFUNDS)):
                    order = Order.objects.get(pk=order_id)
                    half = (order.amount / 2).quantize(Decimal("0.01"))
                    refund_record(
                        shop=shop, order=order, data=RefundInput(external_id=f"TIERDAYR{run}-{i}", amount=half)
                    )
            setup_s["day_of_changes"] = round(time.perf_counter() - started, 1)
            before = distribution()

            def in_savepoint(work) -> tuple[float, object, dict]:
                with transaction.atomic():
                    started = time.perf_counter()
                    result = work()
                    elapsed = time.perf_counter() - started
                    seen = distribution()
                    transaction.set_rollback(True)
                return elapsed, result, seen

            ours, base = [], []
            for _ in range(args.rounds):
                t_base, _written, d_base = in_savepoint(lambda: raw_full(now))
                with shop_scope(shop):
                    t_ours, evaluation, d_ours = in_savepoint(
                        lambda: tiers_evaluate(shop=shop, mode=EvaluationMode.INCREMENTAL, now=now)
                    )
                assert d_ours == d_base, (d_ours, d_base)
                ours.append(t_ours)
                base.append(t_base)
            if args.explain:
                explain_incremental(shop, now)
            transaction.set_rollback(True)
        vacuum()
        report(
            "tier_evaluation_daily",
            figure=min(ours),
            baseline=min(base),
            unit="s (incremental, the day after; baseline: every member by hand)",
            rounds_s=[round(x, 2) for x in ours],
            baseline_rounds_s=[round(x, 1) for x in base],
            members=members,
            mode=evaluation.mode,
            members_checked=evaluation.members_checked,
            upgraded=evaluation.upgraded,
            downgraded=evaluation.downgraded,
            buyers=len(buyers),
            refunds=REFUNDS,
            distribution_before=before,
            distribution_after=d_ours,
            setup_s=setup_s,
            target=DAILY_TARGET,
            target_met=min(ours) / min(base) <= DAILY_TARGET,
            load_avg=[round(x, 2) for x in os.getloadavg()],
        )


def explain_incremental(shop, now) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the statements an incremental run sends (in a rolled-back savepoint)."""
    from django.db import connection, transaction

    from shops.tenancy import shop_scope
    from tiers.evaluation import tiers_evaluate
    from tiers.models import EvaluationMode

    captured: list[tuple[str, tuple]] = []

    def capture(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with transaction.atomic(), shop_scope(shop), connection.execute_wrapper(capture):
        tiers_evaluate(shop=shop, mode=EvaluationMode.INCREMENTAL, now=now)
        transaction.set_rollback(True)
    for sql, params in captured:
        if "members_member" not in sql:
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            transaction.set_rollback(True)
        print(f"--- {connection.ops.compose_sql(sql, params)[:1500]}\n{plan}\n", file=sys.stderr)


if __name__ == "__main__":
    main()
