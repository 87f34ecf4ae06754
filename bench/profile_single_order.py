"""What one POST /api/v1/orders/ costs in process: CPU per order in this process (Django, DRF, our code, psycopg)
and in the PostgreSQL backend serving it, and the statements it sends. The orders go through Django's full
handler and middleware with the test client, one after another, as bench/ingest_single_api.py sends them (the same
payload mix from bench_fixtures.order_payloads). The machine is shared, so the figures are CPU time
(time.process_time, and the backend's utime + stime from /proc), not wall time, over `--rounds` rounds.

The shop is bench_fixtures.ingest_shop (200k members, 1M orders of history, made once, reset on each call) with
--shop ingest, or by default a small shop "profile-single" made here once (5,000 members with a few orders each,
through the services), which shows the same per-order work in seconds of setup.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_perf REDIS_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python bench/profile_single_order.py [--orders 500] [--rounds 3] [--shop small|ingest]
        [--sql]              # print the statements of one order
        [--profile tottime]  # and a cProfile of one more round, sorted by tottime (or cumulative)
"""

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import time

from harness import setup_django

SMALL_SLUG = "profile-single"


def small_shop(members: int = 5000):
    from bench_fixtures import order_input, order_payloads
    from django.db import transaction

    from members.services import Enrolment, members_bulk_enroll
    from orders.services import orders_record
    from shops.models import Shop
    from shops.selectors import shop_by_slug
    from shops.services import shop_create, user_ensure
    from shops.tenancy import shop_scope

    try:
        return shop_by_slug(slug=SMALL_SLUG)
    except Shop.DoesNotExist:
        pass
    with transaction.atomic():
        shop = shop_create(name="Profile", slug=SMALL_SLUG, owner=user_ensure(email="profile@example.com"))
        with shop_scope(shop):
            members_bulk_enroll(
                shop=shop, enrolments=[Enrolment(phone=f"+86139{n:08d}") for n in range(members)], source="bench"
            )
    with shop_scope(shop):
        from bench_fixtures import ingest_buyers

        buyers = ingest_buyers(shop, sample=members)
        history = order_payloads(buyers, count=4 * members, prefix="H", seed=1)
        for start in range(0, len(history), 1000):
            orders_record(shop=shop, orders=[order_input(p) for p in history[start : start + 1000]])
    return shop


def backend_cpu_seconds(pid: int) -> float:
    """utime + stime of a local PostgreSQL backend (0 when /proc does not show it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shop", choices=("small", "ingest"), default="small")
    parser.add_argument("--sql", action="store_true")
    parser.add_argument("--profile", choices=("tottime", "cumulative"))
    parser.add_argument("--lines", type=int, default=45)
    parser.add_argument("--only", help="a regular expression: profile lines of matching files only")
    args = parser.parse_args()

    setup_django()
    from bench_fixtures import ingest_buyers, ingest_shop, order_payloads
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings

    from shops.services import SYSTEM, apikey_create
    from shops.tenancy import shop_scope

    if connection.settings_dict["NAME"] in ("huiyuan_bench",) or connection.settings_dict["NAME"].startswith(
        "huiyuan_dev"
    ):
        raise SystemExit("use a database of its own (e.g. huiyuan_perf)")
    call_command("migrate", verbosity=0)
    shop = ingest_shop() if args.shop == "ingest" else small_shop()
    buyers = ingest_buyers(shop, sample=2000)
    with shop_scope(shop):
        _key, secret = apikey_create(shop=shop, actor=SYSTEM, name="profile")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    run = f"{int(time.time()) % 10**8}"

    statements: list[str] = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    def send(payloads: list[dict]) -> None:
        for payload in payloads:
            response = client.post("/api/v1/orders/", json.dumps(payload), content_type="application/json")
            if response.status_code != 201:
                raise SystemExit(f"{response.status_code}: {response.content[:300]!r}")

    def batch(r: int) -> list[dict]:
        return order_payloads(buyers, count=args.orders, prefix=f"P{run}{r}-", seed=100 + r)

    with override_settings(API_THROTTLE_RATE=1e9, API_THROTTLE_BURST=10**9, ALLOWED_HOSTS=["*"]):
        send(batch(99)[:50])  # warm up: imports, connection, caches
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT 0")
            backend = cursor.fetchone()[0]
        if args.sql:
            one = batch(98)
            member_order = next(
                p
                for p in one
                if p.get("phone") and p["phone"].replace(" ", "")[-11:] in {ph[-11:] for _id, ph in buyers}
            )
            with connection.execute_wrapper(count):
                send([member_order])
            print(f"-- {len(statements)} statements for one order of a member", file=sys.stderr)
            for sql in statements:
                print("  ", " ".join(sql.split())[:220], file=sys.stderr)
        rows = []
        for r in range(args.rounds):
            payloads = batch(r)
            statements.clear()
            wall, cpu, server = time.perf_counter(), time.process_time(), backend_cpu_seconds(backend)
            with connection.execute_wrapper(count):
                send(payloads)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            server = backend_cpu_seconds(backend) - server
            n = len(payloads)
            rows.append(
                {
                    "round": r,
                    "wall_ms": 1000 * wall / n,
                    "cpu_ms": 1000 * cpu / n,
                    "pg_cpu_ms": 1000 * server / n,
                    "statements": len(statements) / n,
                }
            )
            print(json.dumps({k: round(v, 2) for k, v in rows[-1].items()}), file=sys.stderr, flush=True)
        if args.profile:
            profiler = cProfile.Profile(time.process_time)  # CPU, not wall: the machine is shared
            profiler.enable()
            send(batch(args.rounds))
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats(args.profile)
            stats.print_stats(*([args.only] if args.only else []), args.lines)
    summary = {
        "scenario": "order_single_in_process",
        "shop": args.shop,
        "database": connection.vendor,
        "orders_per_round": args.orders,
        "rounds": args.rounds,
        "cpu_ms_per_order": round(statistics.median(r["cpu_ms"] for r in rows), 2),
        "cpu_ms_min": round(min(r["cpu_ms"] for r in rows), 2),
        "pg_cpu_ms_per_order": round(statistics.median(r["pg_cpu_ms"] for r in rows), 2),
        "wall_ms_per_order": round(statistics.median(r["wall_ms"] for r in rows), 2),
        "statements_per_order": round(statistics.median(r["statements"] for r in rows), 2),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
