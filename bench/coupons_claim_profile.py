"""What one claim costs in process: CPU per claim in this process (Django, DRF, our code, psycopg) and in the
PostgreSQL backend (its utime + stime from /proc), statements per claim, and the time the template's row stays
locked (from the lock to the end of the commit), for POST /api/v1/members/{id}/coupons/ and for the raw claim of
bench/coupons_claim_urls.py, through Django's test client on one connection. A diagnostic beside
bench/coupons_claim_api.py (no baseline figure of its own): the claim rate of the gunicorn run is bounded by
2 cores / CPU per claim, and on one hot template by 1 / the time the row stays locked. Median of `--rounds` rounds
of `--claims` claims on a template without stock limit (its coupons deleted afterwards).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/coupons_claim_profile.py [--claims 300] [--rounds 3] [--profile [--sort cumulative]]
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from decimal import Decimal

from harness import report, setup_django
from profile_single_order import backend_cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shop", default="bench-big")
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="a cProfile (CPU) of one more round of API claims")
    parser.add_argument("--sort", choices=("tottime", "cumulative"), default="tottime")
    parser.add_argument("--lines", type=int, default=40)
    args = parser.parse_args()

    setup_django()
    from django.db import connection
    from django.test import Client, override_settings

    from coupons.models import CouponTemplate
    from coupons.services import template_create
    from shops.selectors import shop_by_slug
    from shops.services import SYSTEM, apikey_create
    from shops.tenancy import shop_scope

    shop = shop_by_slug(slug=args.shop)
    with shop_scope(shop):
        _key, secret = apikey_create(shop=shop, actor=SYSTEM, name="bench claim profile")
        template = CouponTemplate.objects.filter(shop=shop, name="bench claim profile").first()
        template = template or template_create(
            shop=shop,
            actor=SYSTEM,
            data={
                "name": "bench claim profile",
                "kind": "amount_off",
                "value": Decimal("20"),
                "min_spend": Decimal("100"),
                "valid_days": 30,
            },
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM members_member WHERE shop_id = %s AND status = 'active' ORDER BY id DESC LIMIT %s",
                [shop.pk, args.claims * (2 * args.rounds + 3)],
            )
            members = iter([r[0] for r in cursor.fetchall()])
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]

    # The row lock's span: from the return of the SELECT ... FOR UPDATE of the template to the end of the commit.
    held: list[float] = []
    locked_at = [0.0]
    statements = [0]

    def watch(execute, sql, params, many, context):
        statements[0] += 1
        result = execute(sql, params, many, context)
        if "FOR UPDATE" in sql and "coupons_coupontemplate" in sql:
            locked_at[0] = time.perf_counter()
        return result

    commit = connection.commit

    def timed_commit() -> None:
        commit()
        if locked_at[0]:
            held.append(time.perf_counter() - locked_at[0])
            locked_at[0] = 0.0

    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    run = f"{int(time.time()) % 10**8}"
    paths = {"api": "/api/v1/members/{}/coupons/", "raw": "/bench/raw-claim/{}/"}

    def claim(kind: str, n: int) -> None:
        response = client.post(
            paths[kind].format(next(members)),
            {"template_id": template.pk, "idempotency_key": f"p{run}-{kind}-{n}"},
            content_type="application/json",
        )
        assert response.status_code == 201, (response.status_code, response.content[:300])

    results: dict[str, dict] = {}
    settings = {
        "API_THROTTLE_RATE": 1e9,
        "API_THROTTLE_BURST": 10**9,
        "ALLOWED_HOSTS": ["*"],
        "ROOT_URLCONF": "bench.coupons_claim_urls",
    }
    connection.commit = timed_commit
    try:
        with override_settings(**settings), connection.execute_wrapper(watch):
            for kind in ("api", "raw"):
                for n in range(20):  # warm-up
                    claim(kind, -n - 1)
                rounds = []
                for r in range(args.rounds):
                    held.clear()
                    statements[0] = 0
                    wall, cpu, server = time.perf_counter(), time.process_time(), backend_cpu_seconds(backend)
                    for n in range(args.claims):
                        claim(kind, r * args.claims + n)
                    rounds.append(
                        {
                            "wall_ms": (time.perf_counter() - wall) / args.claims * 1000,
                            "python_cpu_ms": (time.process_time() - cpu) / args.claims * 1000,
                            "db_cpu_ms": (backend_cpu_seconds(backend) - server) / args.claims * 1000,
                            "statements": statements[0] / args.claims,
                            "locked_ms": statistics.median(held) * 1000 if held else None,
                        }
                    )
                measured = [k for k in rounds[0] if rounds[0][k] is not None]
                results[kind] = {k: statistics.median(r[k] for r in rounds) for k in measured}
                print(kind, {k: round(v, 2) for k, v in results[kind].items()}, file=sys.stderr, flush=True)
            if args.profile:
                profiler = cProfile.Profile(time.process_time)
                profiler.enable()
                for n in range(args.claims):
                    claim("api", 10**6 + n)
                profiler.disable()
                stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats(args.sort)
                stats.print_stats(args.lines)
    finally:
        del connection.commit
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM coupons_coupon WHERE template_id = %s", [template.pk])
            cursor.execute("UPDATE coupons_coupontemplate SET issued = 0 WHERE id = %s", [template.pk])

    api, raw = results["api"], results["raw"]
    report(
        "coupons_claim_in_process",
        figure=api["python_cpu_ms"] + api["db_cpu_ms"],
        baseline=raw["python_cpu_ms"] + raw["db_cpu_ms"],
        unit="ms CPU/claim",
        api={k: round(v, 2) for k, v in api.items()},
        raw={k: round(v, 2) for k, v in raw.items()},
        claims=args.claims,
        rounds=args.rounds,
        load_avg=[round(x, 2) for x in os.getloadavg()],
    )


if __name__ == "__main__":
    main()
