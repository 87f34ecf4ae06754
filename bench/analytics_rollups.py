"""The analytics rollups and the summary API on bench-big (SPEC 14, issue 20's figures).

Set-up (not timed; once, kept): bench/generate.py writes no points ledger, so that the rollup's scan of
`points_pointsentry` is not empty, one `earn` entry per counted member order (its sales in whole points, at its
payment instant) and a `redeem` of part of it for one order in ten (a day later) are written by hand (source "bench
analytics", idempotency keys "bench-analytics:..."), then VACUUM ANALYZE. The generator writes no tiers, coupons
or referrals either: those tables stay empty, and their scans cost what an empty table costs.

(a) `analytics_backfill_2y`: ours is what `manage.py analytics_backfill` runs for the rollups, in process, over
    the orders' whole range of shop-local days: `rollup_days` of each monthly chunk (a transaction each: every
    rollup table rewritten; MemberDay by difference where the chunk has rows, --empty deletes them all first),
    then the buyers of the standard periods; not the deep views it computes after (no baseline counterpart).
    `rewrite` (--sides): the same with each chunk's member-days deleted first in its transaction, as before the
    difference. Baseline: the same GROUP BYs written by hand in SQL over the same chunks, each chunk's results written
    into temporary tables (`INSERT INTO pg_temp.x SELECT ...`: no indexes, no WAL), a transaction per chunk;
    the same statements with their results discarded (`SELECT count(*) FROM (...)`) are reported beside. Between
    runs the rollup tables are vacuumed and a checkpoint taken; rounds alternate which side goes first. Seconds of
    the best round; ratio = ours / baseline.
(b) `analytics_rollup_day`: `rollup_days` of one day, the busiest day of the range (most counted orders), --repeat
    runs after a warm-up, median; beside the same day's GROUP BYs by hand, results fetched and discarded.
(c) `analytics_summary_api`: `GET /api/v1/analytics/summary/?from=&to=` for the last 30 full shop-local days (and
    so the 30 before, as `previous`) through Django's test client in process (key auth, throttle, scope, DRF,
    JSON). The rollups of the 60 days are made first if missing, then the pass's count of both periods' buyers
    (`period_buyers_refresh`, timed). Cold: --requests requests each right after a new rollup version (what a
    pass does to the cache), p50/p95/max in ms: the figure. Warm: --requests requests from the cache. Beside:
    `selectors.summary` and the overview's section (`analytics.home.section`) cold, and --live-requests cold
    requests with the stored counts removed (the buyers counted live, as before the change); the stored and live
    answers are asserted equal. Baseline: the same figures straight from the facts, hand-written SQL
    over both periods (counted orders by period for sales, members' orders grouped by member for active and
    repeat, members, the points ledger, coupons, referrals), median of --baseline-repeat; and, as the issue states
    it, a full GROUP BY (by member) over the latest 3M orders. ratio = our p95 / the period baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/analytics_rollups.py [--shop bench-big] [--only backfill|day|summary] [--rounds 2]
            [--repeat 5] [--requests 100] [--live-requests 5] [--sides ours,rewrite,baseline,discard] [--empty]
            [--explain]

--explain prints EXPLAIN (ANALYZE, BUFFERS) of the busy day's statements of rollups.py (rolled back).
"""

import argparse
import datetime
import os
import sys
import time

from harness import median, report, setup_django

LEDGER_SOURCE = "bench analytics"
COUNTED = ("paid", "completed", "partially_refunded")
COUPON = (
    "EXISTS (SELECT 1 FROM coupons_redemption r WHERE r.shop_id = o.shop_id AND r.order_external_id = o.external_id "
    "AND r.reversed_at IS NULL)"
)


def raw_statements(tz: str) -> dict[str, str]:
    """The rollups' GROUP BYs (analytics.rollups) written by hand, over one shop and [start, end). Parameters:
    shop, start, end (named)."""
    day = f"(({{col}}) AT TIME ZONE '{tz}')::date"
    counted = (
        "FROM orders_order o WHERE o.shop_id = %(shop)s AND o.paid_at >= %(start)s AND o.paid_at < %(end)s "
        f"AND o.status IN {COUNTED!r}"
    )
    return {
        "sales": f"""SELECT {day.format(col="o.paid_at")} AS day, count(*) AS v1,
            sum(o.amount - o.refunded_amount) AS v2,
            count(*) FILTER (WHERE o.member_id IS NOT NULL) AS v3,
            sum(o.amount - o.refunded_amount) FILTER (WHERE o.member_id IS NOT NULL) AS v4,
            count(*) FILTER (WHERE c.coupon) AS v5, sum(o.amount - o.refunded_amount) FILTER (WHERE c.coupon) AS v6
            {counted.replace("WHERE", f", LATERAL (SELECT {COUPON} AS coupon) c WHERE", 1)} GROUP BY 1""",
        "member_days": f"""SELECT {day.format(col="o.paid_at")} AS day, o.member_id, count(*) AS v1,
            sum(o.amount - o.refunded_amount) AS v2 {counted} AND o.member_id IS NOT NULL GROUP BY 1, 2""",
        "joins": f"""SELECT {day.format(col="joined_at")} AS day, join_channel, count(*) AS v1 FROM members_member
            WHERE shop_id = %(shop)s AND joined_at >= %(start)s AND joined_at < %(end)s GROUP BY 1, 2""",
        "points": f"""SELECT {day.format(col="created_at")} AS day, kind,
            sum(points) FILTER (WHERE points > 0) AS v1,
            sum(points) FILTER (WHERE points < 0) AS v2 FROM points_pointsentry
            WHERE shop_id = %(shop)s AND created_at >= %(start)s AND created_at < %(end)s GROUP BY 1, 2""",
        "coupons_issued": f"""SELECT {day.format(col="issued_at")} AS day, count(*) AS v1 FROM coupons_coupon
            WHERE shop_id = %(shop)s AND member_id IS NOT NULL AND issued_at >= %(start)s AND issued_at < %(end)s
            GROUP BY 1""",
        "redemptions": f"""SELECT {day.format(col="redeemed_at")} AS day, count(*) AS v1, sum(discount) AS v2
            FROM coupons_redemption WHERE shop_id = %(shop)s AND reversed_at IS NULL AND redeemed_at >= %(start)s
            AND redeemed_at < %(end)s GROUP BY 1""",
        "tiers_entered": f"""SELECT {day.format(col="c.changed_at")} AS day, c.to_tier_id, count(*) AS v1,
            count(*) FILTER (WHERE t.rank > coalesce(f.rank, 0)) AS v2 FROM tiers_tierchange c
            LEFT JOIN tiers_tier t ON t.id = c.to_tier_id LEFT JOIN tiers_tier f ON f.id = c.from_tier_id
            WHERE c.shop_id = %(shop)s AND c.changed_at >= %(start)s AND c.changed_at < %(end)s GROUP BY 1, 2""",
        "tiers_left": f"""SELECT {day.format(col="changed_at")} AS day, from_tier_id, count(*) AS v1
            FROM tiers_tierchange
            WHERE shop_id = %(shop)s AND changed_at >= %(start)s AND changed_at < %(end)s GROUP BY 1, 2""",
        "referrals": f"""SELECT {day.format(col="created_at")} AS day, count(*) AS v1 FROM recruitment_referral
            WHERE shop_id = %(shop)s AND created_at >= %(start)s AND created_at < %(end)s GROUP BY 1""",
        "referrals_rewarded": f"""SELECT {day.format(col="rewarded_at")} AS day, count(*) AS v1
            FROM recruitment_referral
            WHERE shop_id = %(shop)s AND status = 'rewarded' AND rewarded_at >= %(start)s AND rewarded_at < %(end)s
            GROUP BY 1""",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shop", default="bench-big")
    parser.add_argument("--only", choices=("backfill", "day", "summary"), default=None)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--baseline-repeat", type=int, default=3)
    parser.add_argument("--live-requests", type=int, default=5)
    parser.add_argument("--sides", default="ours,baseline,discard", help="of ours,rewrite,baseline,discard")
    parser.add_argument("--empty", action="store_true", help="backfill: the shop's member-days deleted before ours")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()

    setup_django()
    import psycopg
    from django.db import connection, transaction
    from django.test import Client, override_settings
    from generate import conninfo

    from analytics import home, rollups, selectors
    from analytics.models import MemberDay, PeriodBuyers, SalesDay
    from shops.roles import Perm
    from shops.selectors import shop_by_slug
    from shops.services import SYSTEM, apikey_create
    from shops.tenancy import shop_scope
    from shops.time import days_bounds, local_date, local_today

    admin = psycopg.connect(**conninfo(), autocommit=True)
    shop = shop_by_slug(slug=args.shop)
    scope = shop_scope(shop)
    scope.__enter__()
    tz = shop.time_zone

    def value(sql: str, params=None):
        return admin.execute(sql, params or []).fetchone()[0]

    def load() -> list[float]:
        return [round(x, 2) for x in os.getloadavg()]

    # The points ledger (once, kept).
    if not value("SELECT EXISTS (SELECT 1 FROM points_pointsentry WHERE shop_id = %s AND actor = %s)",
                 [shop.pk, LEDGER_SOURCE]):  # fmt: skip
        started = time.perf_counter()
        with admin.transaction():
            admin.execute("SET LOCAL session_replication_role = replica")  # references are the orders' own
            admin.execute(
                "INSERT INTO points_pointsentry (shop_id, member_id, kind, points, reason, order_external_id, "
                "idempotency_key, body_hash, actor, created_at, details) "
                "SELECT shop_id, member_id, 'earn', floor(amount - refunded_amount)::bigint, '', external_id, "
                "'bench-analytics:earn:' || id, '', %s, paid_at, '{}' FROM orders_order "
                "WHERE shop_id = %s AND member_id IS NOT NULL AND status = ANY(%s) AND amount - refunded_amount >= 1",
                [LEDGER_SOURCE, shop.pk, list(COUNTED)],
            )
            admin.execute(
                "INSERT INTO points_pointsentry (shop_id, member_id, kind, points, reason, order_external_id, "
                "idempotency_key, body_hash, actor, created_at, details) "
                "SELECT shop_id, member_id, 'redeem', -greatest(1, floor((amount - refunded_amount) / 2))::bigint, "
                "'', '', 'bench-analytics:redeem:' || id, '', %s, paid_at + interval '1 day', '{}' FROM orders_order "
                "WHERE shop_id = %s AND member_id IS NOT NULL AND status = ANY(%s) AND amount - refunded_amount >= 2 "
                "AND id %% 10 = 0",
                [LEDGER_SOURCE, shop.pk, list(COUNTED)],
            )
        admin.execute("VACUUM (ANALYZE) points_pointsentry")
        print(f"points ledger written in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    entries = value("SELECT count(*) FROM points_pointsentry WHERE shop_id = %s", [shop.pk])
    first_at, last_at = admin.execute(
        "SELECT min(paid_at), max(paid_at) FROM orders_order WHERE shop_id = %s", [shop.pk]
    ).fetchone()
    first_day, last_day = local_date(shop, first_at), local_date(shop, last_at)
    print(f"orders paid {first_day} .. {last_day}; {entries} points entries", file=sys.stderr, flush=True)
    statements = raw_statements(tz)

    def rollup_vacuum() -> None:
        for table in ("salesday", "memberday", "joinday", "pointsday", "couponday", "tierday", "referralday"):
            admin.execute(f"VACUUM (ANALYZE) analytics_{table}")
        admin.execute("CHECKPOINT")

    if args.only in (None, "backfill"):
        from analytics.management.commands.analytics_backfill import CHUNK_DAYS

        day_chunks, chunks = [], []
        start = first_day
        while start <= last_day:
            end = min(start + datetime.timedelta(days=CHUNK_DAYS - 1), last_day)
            day_chunks.append((start, end))
            chunks.append(days_bounds(shop, start, end))
            start = end + datetime.timedelta(days=1)

        def ours(rewrite: bool = False) -> float:
            """analytics_backfill's rollups: its chunks, then the buyers of the standard periods (the deep views it
            computes after are not timed: the baseline has no counterpart). rewrite: as before the difference, each
            chunk's member-days deleted and all inserted again in the chunk's transaction."""
            if args.empty:
                admin.execute("DELETE FROM analytics_memberday WHERE shop_id = %s", [shop.pk])
                admin.execute("VACUUM (ANALYZE) analytics_memberday")
                admin.execute("CHECKPOINT")
            started = time.perf_counter()
            for first, last in day_chunks:
                with transaction.atomic():
                    if rewrite:
                        MemberDay.objects.filter(shop=shop, day__gte=first, day__lte=last).delete()
                    rollups.rollup_days(shop=shop, first=first, last=last)
            rollups.period_buyers_refresh(shop=shop, yesterday=local_today(shop) - datetime.timedelta(days=1))
            return time.perf_counter() - started

        def baseline_temp() -> float:
            started = time.perf_counter()
            with admin.transaction():
                for name, sql in statements.items():
                    # CREATE TABLE AS takes no server-side parameters: bound on the client.
                    psycopg.ClientCursor(admin).execute(
                        f"CREATE TEMP TABLE IF NOT EXISTS bench_{name} AS {sql} LIMIT 0",
                        {"shop": shop.pk, "start": chunks[0][0], "end": chunks[0][0]},
                    )
                    admin.execute(f"TRUNCATE bench_{name}")
            for start, end in chunks:
                with admin.transaction():
                    for name, sql in statements.items():
                        admin.execute(f"INSERT INTO bench_{name} {sql}", {"shop": shop.pk, "start": start, "end": end})
            elapsed = time.perf_counter() - started
            rows = value("SELECT count(*) FROM bench_member_days")
            print(f"  baseline wrote {rows} member-day rows", file=sys.stderr, flush=True)
            return elapsed

        def baseline_discard() -> float:
            started = time.perf_counter()
            for start, end in chunks:
                with admin.transaction():
                    for sql in statements.values():
                        admin.execute(f"SELECT count(*) FROM ({sql}) s", {"shop": shop.pk, "start": start, "end": end})
            return time.perf_counter() - started

        sides = {"ours": ours, "rewrite": lambda: ours(rewrite=True), "baseline": baseline_temp,
                 "discard": baseline_discard}  # fmt: skip
        chosen = [side for side in sides if side in args.sides.split(",")]
        best: dict = {}
        for r in range(args.rounds):
            for side in chosen if r % 2 == 0 else chosen[::-1]:
                rollup_vacuum()
                before = load()
                elapsed = sides[side]()
                line = {"round": r, "side": side, "seconds": round(elapsed, 1), "load_avg_before": before,
                        "load_avg_after": load()}  # fmt: skip
                print(line, file=sys.stderr, flush=True)
                if side not in best or elapsed < best[side]["seconds"]:
                    best[side] = line
        seconds = {side: line["seconds"] for side, line in best.items()}
        report(
            "analytics_backfill_2y",
            figure=seconds.get("ours", 0),
            baseline=seconds.get("baseline", 0),
            unit="s",
            days=f"{first_day}..{last_day}",
            chunks=len(chunks),
            empty_before=args.empty,
            member_days=MemberDay.objects.filter(shop=shop).count(),
            sales_days=SalesDay.objects.filter(shop=shop).count(),
            seconds=seconds,
            ratios={f"{a}/{b}": round(seconds[a] / seconds[b], 3)
                    for a in ("ours", "rewrite") for b in ("baseline", "discard") if a in seconds and b in seconds},
            rounds=args.rounds,
            load_avg={side: line["load_avg_before"] for side, line in best.items()},
        )  # fmt: skip

    if args.only in (None, "day"):
        busy, busy_orders = admin.execute(
            f"SELECT (paid_at AT TIME ZONE '{tz}')::date, count(*) FROM orders_order "  # noqa: S608
            "WHERE shop_id = %s AND status = ANY(%s) GROUP BY 1 ORDER BY 2 DESC, 1 DESC LIMIT 1",
            [shop.pk, list(COUNTED)],
        ).fetchone()
        start, end = days_bounds(shop, busy, busy)
        params = {"shop": shop.pk, "start": start, "end": end}
        print(f"busy day {busy}: {busy_orders} counted orders", file=sys.stderr, flush=True)

        if args.explain:
            with transaction.atomic(), connection.cursor() as cursor:
                for name, sql in statements.items():
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    print(f"-- {name}\n" + "\n".join(r[0] for r in cursor.fetchall()), file=sys.stderr, flush=True)
                transaction.set_rollback(True)

        def ours() -> float:
            started = time.perf_counter()
            written = rollups.rollup_days(shop=shop, first=busy, last=busy)
            ours.written = written
            return time.perf_counter() - started

        def baseline() -> float:
            started = time.perf_counter()
            with admin.transaction():
                for sql in statements.values():
                    admin.execute(sql, params).fetchall()
            return time.perf_counter() - started

        ours()
        baseline()  # warm-up
        ours_ms, raw_ms, loads = [], [], []
        for i in range(args.repeat):
            loads.append(load()[0])
            for side in ("ours", "baseline") if i % 2 == 0 else ("baseline", "ours"):
                (ours_ms if side == "ours" else raw_ms).append((ours() if side == "ours" else baseline()) * 1000)
        report(
            "analytics_rollup_day",
            figure=median(ours_ms),
            baseline=median(raw_ms),
            unit="ms",
            day=str(busy),
            counted_orders=busy_orders,
            written=ours.written,
            runs_ms=[round(x) for x in ours_ms],
            baseline_runs_ms=[round(x) for x in raw_ms],
            load_avg=loads,
        )

    if args.only in (None, "summary"):
        last = local_today(shop) - datetime.timedelta(days=1)
        first = last - datetime.timedelta(days=29)
        before_first = first - datetime.timedelta(days=30)
        if SalesDay.objects.filter(shop=shop, day__gte=before_first, day__lte=last).count() < 60:
            rollups.rollup_days(shop=shop, first=before_first, last=last)
        # The pass's new step, timed: the buyers of both standard periods counted into PeriodBuyers.
        PeriodBuyers.objects.filter(shop=shop).delete()
        started = time.perf_counter()
        rollups.period_buyers_refresh(shop=shop, yesterday=last)
        refresh_ms = (time.perf_counter() - started) * 1000
        _key, secret = apikey_create(shop=shop, actor=SYSTEM, name="bench analytics")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
        url = f"/api/v1/analytics/summary/?from={first}&to={last}"

        def quantile(values: list[float], q: float) -> float:
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

        def timed_get(cold: bool) -> float:
            if cold:  # what a rollup pass does to the cache: a new version, so the next request computes
                selectors.rollups_changed(shop=shop)
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200
            return elapsed

        api_ms, cold_ms, live_ms, home_ms, selector_ms = [], [], [], [], []
        perms = frozenset({Perm.ANALYTICS_VIEW})
        with override_settings(API_THROTTLE_RATE=1e9, API_THROTTLE_BURST=10**9, ALLOWED_HOSTS=["*"]):
            response = client.get(url)
            assert response.status_code == 200, (response.status_code, response.content[:300])
            body = response.json()
            load_before = load()
            for _ in range(args.requests):  # cold: the first request after a pass, the buyers read from the pass
                cold_ms.append(timed_get(cold=True))
            for _ in range(args.requests):  # warm: the cache holds the figures
                api_ms.append(timed_get(cold=False))
            for _ in range(max(10, args.requests // 5)):
                selectors.rollups_changed(shop=shop)
                started = time.perf_counter()
                home.section(shop=shop, perms=perms)  # the overview's figures, sparklines and campaign results
                home_ms.append((time.perf_counter() - started) * 1000)
            for _ in range(max(10, args.requests // 5)):
                selectors.rollups_changed(shop=shop)
                started = time.perf_counter()
                selectors.summary(shop=shop, first=first, last=last)
                selector_ms.append((time.perf_counter() - started) * 1000)
            # Before the change, for the record: the same cold request with the buyers counted live.
            saved = list(PeriodBuyers.objects.filter(shop=shop).values("first", "last", "active", "repeat"))
            PeriodBuyers.objects.filter(shop=shop).delete()
            live_body = client.get(url).json()
            for _ in range(args.live_requests):
                live_ms.append(timed_get(cold=True))
            PeriodBuyers.objects.bulk_create(PeriodBuyers(shop=shop, **row) for row in saved)
            assert live_body == body, "the stored buyer counts give other figures than the live count"
        load_after = load()

        s1, e1 = days_bounds(shop, first, last)
        s0, e0 = days_bounds(shop, before_first, first - datetime.timedelta(days=1))
        direct = f"""
            WITH periods(p, s, e) AS (VALUES (1, %(s1)s::timestamptz, %(e1)s::timestamptz),
                                            (0, %(s0)s::timestamptz, %(e0)s::timestamptz)),
            o AS (SELECT p.p, o.member_id, o.amount - o.refunded_amount AS net, {COUPON} AS c
                  FROM periods p JOIN orders_order o ON o.shop_id = %(shop)s AND o.paid_at >= p.s AND o.paid_at < p.e
                  WHERE o.status IN {COUNTED!r}),
            buyers AS (SELECT p, member_id, count(*) AS n FROM o WHERE member_id IS NOT NULL GROUP BY 1, 2)
            SELECT p.p,
              (SELECT count(*) FROM members_member WHERE shop_id = %(shop)s AND joined_at < p.e),
              (SELECT count(*) FROM members_member WHERE shop_id = %(shop)s AND joined_at >= p.s AND joined_at < p.e),
              (SELECT row(count(*), sum(net), count(*) FILTER (WHERE member_id IS NOT NULL),
                          sum(net) FILTER (WHERE member_id IS NOT NULL), count(*) FILTER (WHERE c),
                          sum(net) FILTER (WHERE c))::text FROM o WHERE o.p = p.p),
              (SELECT row(count(*), count(*) FILTER (WHERE n >= 2))::text FROM buyers b WHERE b.p = p.p),
              (SELECT array_agg(row(kind, s)::text) FROM (SELECT kind, sum(points) AS s FROM points_pointsentry
                 WHERE shop_id = %(shop)s AND created_at >= p.s AND created_at < p.e GROUP BY kind) k),
              (SELECT sum(points) FROM points_pointsentry WHERE shop_id = %(shop)s AND created_at < p.e),
              (SELECT count(*) FROM coupons_coupon WHERE shop_id = %(shop)s AND member_id IS NOT NULL
                 AND issued_at >= p.s AND issued_at < p.e),
              (SELECT row(count(*), sum(discount))::text FROM coupons_redemption WHERE shop_id = %(shop)s
                 AND reversed_at IS NULL AND redeemed_at >= p.s AND redeemed_at < p.e),
              (SELECT count(*) FROM recruitment_referral WHERE shop_id = %(shop)s AND created_at >= p.s
                 AND created_at < p.e),
              (SELECT count(*) FROM recruitment_referral WHERE shop_id = %(shop)s AND status = 'rewarded'
                 AND rewarded_at >= p.s AND rewarded_at < p.e)
            FROM periods p"""  # noqa: S608
        direct_params = {"shop": shop.pk, "s1": s1, "e1": e1, "s0": s0, "e0": e0}
        since = value(
            "SELECT coalesce((SELECT paid_at FROM orders_order WHERE shop_id = %s ORDER BY paid_at DESC "
            "OFFSET 3000000 LIMIT 1), 'epoch')",
            [shop.pk],
        )
        group_3m = (
            "SELECT count(*) FROM (SELECT member_id, count(*), sum(amount - refunded_amount) FROM orders_order "
            "WHERE shop_id = %s AND paid_at > %s GROUP BY member_id) s"
        )
        direct_ms, group_ms, direct_rows = [], [], None
        for i in range(args.baseline_repeat + 1):
            started = time.perf_counter()
            direct_rows = admin.execute(direct, direct_params).fetchall()
            t = time.perf_counter()
            admin.execute(group_3m, [shop.pk, since]).fetchone()
            done = time.perf_counter()
            if i:
                direct_ms.append((t - started) * 1000)
                group_ms.append((done - t) * 1000)
        current = next(r for r in direct_rows if r[0] == 1)
        report(
            "analytics_summary_api",
            figure=quantile(cold_ms, 0.95),
            baseline=median(direct_ms),
            unit="ms",
            period=f"{first}..{last}",
            requests=args.requests,
            cold_p50_ms=round(quantile(cold_ms, 0.5), 1),
            cold_max_ms=round(max(cold_ms), 1),
            warm_p95_ms=round(quantile(api_ms, 0.95), 1),
            warm_p50_ms=round(quantile(api_ms, 0.5), 1),
            warm_max_ms=round(max(api_ms), 1),
            live_buyers_cold_runs_ms=[round(x) for x in live_ms],
            pass_buyers_refresh_ms=round(refresh_ms),
            overview_section_cold_p50_ms=round(quantile(home_ms, 0.5), 1),
            overview_section_cold_p95_ms=round(quantile(home_ms, 0.95), 1),
            selector_cold_p50_ms=round(quantile(selector_ms, 0.5), 1),
            selector_cold_p95_ms=round(quantile(selector_ms, 0.95), 1),
            baseline_runs_ms=[round(x) for x in direct_ms],
            group_by_3m_orders_ms=round(median(group_ms)),
            group_by_3m_runs_ms=[round(x) for x in group_ms],
            ratio_to_3m=round(quantile(cold_ms, 0.95) / median(group_ms), 4),
            figures={k: body.get(k) for k in ("orders", "sales", "repeat_purchase_rate", "points_outstanding")},
            direct_figures=[str(x) for x in current[1:6]],
            load_avg=load_before,
            load_avg_after=load_after,
        )
    scope.__exit__(None, None, None)


if __name__ == "__main__":
    main()
