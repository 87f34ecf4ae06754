"""The nightly points expiry at a million members.

Set-up (not timed): a shop of its own, `bench-expiry` (made with shops.services.shop_create), holding a copy of
bench-big's million members (bench/generate.py), so that neither bench-big's rows nor its index ranges change. Each
member gets, set-based, two earn entries with their lots: one earned two years ago that expired yesterday (1-997
points), one earned last month that expires next year (1-499 points); balances are set to their sum.

Scenario `points_expire_1m`: points.expiry.points_expire over the shop (a million due lots: one expire entry each,
lots to 0, balances lowered; with its member locks, key-order locking, ON CONFLICT and checks).
Baseline: the same entries (same keys and body hashes), lot and balance updates written by hand as three raw
statements in one transaction (INSERT ... SELECT, UPDATE ... FROM, UPDATE), without locks or checks.
Between runs the shop is reset (expire entries deleted, lots and balances restored), vacuumed and checkpointed, so
that each run starts alike; rounds alternate which side runs first. Figures: the best round, in seconds; ratio =
ours / baseline (target <= 1.5).
Scenario `points_expire_nothing_due`: the usual night, when no lot is due (the million later lots are open):
points_expire against the same three raw statements finding nothing; median of `--idle-runs`, in ms.

At the end the shop and every row it owns are deleted (bench/generate.py's shop_delete), the touched tables
vacuumed and the member indexes rebuilt (REINDEX CONCURRENTLY: the copy's emptied index pages would otherwise stay).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/points_expiry.py [--source bench-big] [--rounds 3] [--idle-runs 5] [--members N] [--keep]
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from harness import report, setup_django

SLUG = "bench-expiry"
TABLES = ("members_member", "points_pointslot", "points_pointsentry")


def lap(name: str, started: float) -> float:
    now = time.perf_counter()
    print(f"{name}: {now - started:.1f} s", file=sys.stderr, flush=True)
    return now


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default="bench-big", help="the shop whose members are copied")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle-runs", type=int, default=5)
    parser.add_argument("--members", type=int, default=0, help="copy only this many members (0: all)")
    parser.add_argument("--keep", action="store_true", help="keep the bench-expiry shop afterwards")
    args = parser.parse_args()

    setup_django()
    import psycopg
    from django.db import connection, transaction
    from generate import conninfo, session, shop_delete

    from members.models import Member
    from points.expiry import points_expire
    from points.models import PointsEntry
    from shops.models import Shop
    from shops.selectors import shop_by_slug
    from shops.services import shop_create, user_ensure
    from shops.tenancy import all_shops, shop_scope

    now = datetime.now(UTC).replace(microsecond=0)
    with all_shops():  # the benchmark replaces its own shop, left over or not
        old = Shop.objects.filter(slug=SLUG).first()
    admin = psycopg.connect(**conninfo(), autocommit=True)
    session(admin)
    if old:
        shop_delete(admin, old.pk)
    source = shop_by_slug(slug=args.source)
    shop = shop_create(name="Bench expiry", slug=SLUG, owner=user_ensure(email=f"{SLUG}@example.com"))
    due = [shop.pk, now]

    def sql(statement: str, params: list | None = None) -> int:
        with connection.cursor() as cursor:
            cursor.execute(statement, params or [])
            return cursor.rowcount

    def value(statement: str, params: list) -> int:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchone()[0]

    def maintain() -> None:
        for table in TABLES:
            admin.execute(f"VACUUM (ANALYZE) {table}")
        admin.execute("CHECKPOINT")

    try:
        started = time.perf_counter()
        overrides = {"id": None, "shop_id": "%s", "referrer_id": "NULL", "tier_id": "NULL", "points_balance": "0"}
        columns = [f.column for f in Member._meta.concrete_fields if overrides.get(f.column, "") is not None]
        select = [overrides.get(c, c) for c in columns]
        sql(
            f"INSERT INTO members_member ({', '.join(columns)}) "  # noqa: S608 - names come from the model
            f"SELECT {', '.join(select)} FROM members_member WHERE shop_id = %s ORDER BY id LIMIT %s",
            [shop.pk, source.pk, args.members or None],
        )
        started = lap("members_copy", started)
        entry_columns = [f for f in PointsEntry._meta.concrete_fields if not f.primary_key]
        for label, points, earned_at in (
            ("old", "1 + m.id %% 997", now - timedelta(days=731)),
            ("new", "1 + m.id %% 499", now - timedelta(days=30)),
        ):
            chosen = {
                "shop_id": ("m.shop_id", []),
                "member_id": ("m.id", []),
                "kind": ("'earn'", []),
                "points": (points, []),
                "idempotency_key": ("%s || m.id::text", [f"bench:{label}:"]),
                "body_hash": ("md5(%s || m.id::text)", [label]),
                "actor": ("'system'", []),
                "created_at": ("%s", [earned_at]),
            }
            exprs, params = [], []
            for field in entry_columns:  # a field the set-up does not name gets its default
                expr, values = chosen.get(field.column) or (
                    "%s",
                    [field.get_db_prep_save(field.get_default(), connection)],
                )
                exprs.append(expr)
                params.extend(values)
            sql(
                f"INSERT INTO points_pointsentry ({', '.join(f.column for f in entry_columns)}) "  # noqa: S608
                f"SELECT {', '.join(exprs)} FROM members_member m WHERE m.shop_id = %s ORDER BY m.id",
                [*params, shop.pk],
            )
        sql(
            """INSERT INTO points_pointslot (shop_id, entry_id, member_id, remaining, earned_at, expires_at)
               SELECT e.shop_id, e.id, e.member_id, e.points, e.created_at,
                      CASE WHEN e.idempotency_key LIKE 'bench:old:%%' THEN %s ELSE %s END
               FROM points_pointsentry e WHERE e.shop_id = %s ORDER BY e.id""",
            [now - timedelta(days=1), now + timedelta(days=335), shop.pk],
        )
        started = lap("entries_and_lots", started)

        def reset() -> None:
            """Back to the set-up state: no expire entries, lots full, balances = the earned points."""
            sql("DELETE FROM points_pointsentry WHERE shop_id = %s AND kind = 'expire'", [shop.pk])
            sql(
                """UPDATE points_pointslot l SET remaining = e.points FROM points_pointsentry e
                   WHERE e.id = l.entry_id AND l.shop_id = %s AND l.remaining <> e.points""",
                [shop.pk],
            )
            sql(
                """UPDATE members_member m SET points_balance = s.total
                   FROM (SELECT member_id, SUM(points) AS total FROM points_pointsentry WHERE shop_id = %s
                         GROUP BY member_id) s
                   WHERE m.id = s.member_id AND m.points_balance <> s.total""",
                [shop.pk],
            )
            maintain()

        reset()
        lap("reset", started)
        members = value("SELECT count(*) FROM members_member WHERE shop_id = %s", [shop.pk])

        def ours() -> int:
            with shop_scope(shop):
                return points_expire(shop=shop, now=now)

        def raw() -> int:
            """The same entries and updates written by hand: no locks, no conflict handling, no checks."""
            with transaction.atomic():
                inserted = sql(
                    """INSERT INTO points_pointsentry (shop_id, member_id, kind, points, reason, order_external_id,
                            idempotency_key, body_hash, actor, created_at, details)
                       SELECT l.shop_id, l.member_id, 'expire', -l.remaining, 'Points expired', '',
                            'expire#lot#' || l.id, encode(sha256(convert_to('{"kind": "expire", "lot": ' || l.id
                            || ', "member": ' || l.member_id || ', "points": ' || -l.remaining || '}', 'UTF8')), 'hex'),
                            'system', %s, '{}'
                       FROM points_pointslot l WHERE l.shop_id = %s AND l.remaining > 0 AND l.expires_at <= %s""",
                    [now, *due],
                )
                sql(
                    """UPDATE members_member m SET points_balance = m.points_balance - d.total
                       FROM (SELECT member_id, SUM(remaining) AS total FROM points_pointslot
                             WHERE shop_id = %s AND remaining > 0 AND expires_at <= %s GROUP BY member_id) d
                       WHERE m.id = d.member_id""",
                    due,
                )
                sql(
                    """UPDATE points_pointslot SET remaining = 0
                       WHERE shop_id = %s AND remaining > 0 AND expires_at <= %s""",
                    due,
                )
                return inserted

        def timed(work) -> tuple[float, int]:
            began = time.perf_counter()
            result = work()
            return time.perf_counter() - began, result

        times: dict[str, list[float]] = {"ours": [], "raw": []}
        counts = set()
        for r in range(args.rounds):
            for name in ("ours", "raw") if r % 2 == 0 else ("raw", "ours"):
                seconds, expired = timed(ours if name == "ours" else raw)
                times[name].append(round(seconds, 2))
                counts.add(expired)
                print(f"round {r} {name}: {seconds:.2f} s, {expired} lots", file=sys.stderr, flush=True)
                reset()
        report(
            "points_expire_1m",
            figure=min(times["ours"]),
            baseline=min(times["raw"]),
            unit="s (best round)",
            rounds_s=times,
            lots_expired=sorted(counts),
            members=members,
            target_ratio=1.5,
            load_avg=[round(x, 2) for x in os.getloadavg()],
        )

        # The usual night: nothing due. One run expires everything due; then both sides find nothing.
        ours()
        maintain()
        idle: dict[str, list[float]] = {"ours": [], "raw": []}
        for _ in range(args.idle_runs):
            for name, work in (("ours", ours), ("raw", raw)):
                seconds, expired = timed(work)
                assert expired == 0
                idle[name].append(seconds * 1000)
        report(
            "points_expire_nothing_due",
            figure=statistics.median(idle["ours"]),
            baseline=statistics.median(idle["raw"]),
            unit="ms (median)",
            runs_ms={k: [round(v, 1) for v in vs] for k, vs in idle.items()},
            open_lots=members,
            load_avg=[round(x, 2) for x in os.getloadavg()],
        )
    finally:
        if not args.keep:
            connection.close()
            shop_delete(admin, shop.pk)
            for table in TABLES:
                admin.execute(f"VACUUM (ANALYZE) {table}")
            # The copy's index entries are gone but their pages stay: rebuild the member indexes to the size
            # bench/generate.py left (without blocking other sessions).
            admin.execute("REINDEX TABLE CONCURRENTLY members_member")
        admin.close()


if __name__ == "__main__":
    main()
