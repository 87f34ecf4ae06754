"""What the platform costs per API request: key authentication, throttling, shop scope, DRF, the error plumbing.

Scenario: GET /api/v1/shop/ through Django's full stack (every middleware) with a valid key.
Baseline: the same stack serving bench/baseline_urls.py, a bare view doing the one indispensable query in raw SQL
and returning the same JSON. Both run in this process with Django's in-process client, one after the other.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/api_overhead.py [--requests 2000]
"""

import argparse

from harness import rate, report, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    setup_django()
    from bench_fixtures import bench_shop_with_key
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings

    _shop, secret = bench_shop_with_key()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    # Lift the throttle so a long run is not cut off at its burst; the bucket is still taken on every request.
    with override_settings(API_THROTTLE_RATE=1e9, API_THROTTLE_BURST=10**9, ALLOWED_HOSTS=["*"]):
        assert client.get("/api/v1/shop/").status_code == 200
        ours = rate(lambda: client.get("/api/v1/shop/"), repeat=args.requests)
        with override_settings(ROOT_URLCONF="bench.baseline_urls"):
            assert client.get("/baseline/").status_code == 200
            baseline = rate(lambda: client.get("/baseline/"), repeat=args.requests)
    report(
        "api_shop_detail",
        figure=ours,
        baseline=baseline,
        unit="requests/s",
        database=connection.vendor,
        throttle_store="redis" if settings.REDIS_URL else "memory",
        requests=args.requests,
    )


if __name__ == "__main__":
    main()
