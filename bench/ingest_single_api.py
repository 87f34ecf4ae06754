"""Single-order API under concurrent clients, against gunicorn as deployed.

Scenario: POST /api/v1/orders/ (one new order with 1-4 items; 60% of buyers by phone, 15% by member id, 10% a
phone that is no member's, 15% anonymous) from 16 concurrent keep-alive clients, against gunicorn with 4 sync
workers on loopback (production settings, Redis throttle lifted, the bench-ingest shop of bench_fixtures).
Baseline: the same load against GET /healthz (database, cache and broker checks behind the same middleware) in
the same run. Each is driven for a bounded number of requests and time; the figure is its best of `--rounds`
rounds (interleaved), with the latency percentiles of that round.

The load comes from wrk (apt-get install wrk) with a Lua script that makes each order unique; without wrk, or
with --driver python, from 16 threads with a requests.Session each (which costs the server more CPU: the machine
has two cores).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/ingest_single_api.py [--requests 6000] [--seconds 30] [--clients 16] [--workers 4]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness import gunicorn_serving, report, setup_django

ROOT = Path(__file__).resolve().parent.parent

LUA = r"""
local orders = {ORDERS}
local method, path, body_kind = "{METHOD}", "{PATH}", "{KIND}"
local limit = {LIMIT}
local threads, counter = {}, 0

function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
    table.insert(threads, thread)
end

function init(args)
    n, seen = 0, 0
    wrk.headers["Authorization"] = "Bearer {SECRET}"
    wrk.headers["Content-Type"] = "application/json"
end

function request()
    n = n + 1
    if body_kind == "order" then
        local template = orders[(n * 7 + tid) % #orders + 1]
        local body = string.gsub(template, "@ID@", string.format("{PREFIX}%d-%d", tid, n))
        return wrk.format(method, path, nil, body)
    end
    return wrk.format(method, path)
end

function response(status, headers, body)
    seen = seen + 1
    if status ~= {EXPECT} then
        io.stderr:write("status " .. status .. ": " .. string.sub(body, 1, 300) .. "\n")
    end
    if seen >= limit then wrk.thread:stop() end
end

function done(summary, latency, requests)
    io.write(string.format(
        '{"requests": %d, "duration_us": %d, "mean_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "errors": %d}\n',
        summary.requests, summary.duration, latency.mean, latency:percentile(50), latency:percentile(95),
        latency:percentile(99), summary.errors.status + summary.errors.connect + summary.errors.read
            + summary.errors.write + summary.errors.timeout))
end
"""


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def run_wrk(
    *,
    base: str,
    path: str,
    method: str,
    kind: str,
    expect: int,
    secret: str,
    orders: list[str],
    requests: int,
    seconds: int,
    clients: int,
    prefix: str,
) -> dict:
    threads = 2
    script = (
        LUA.replace("{ORDERS}", "{" + ",".join(lua_string(o) for o in orders) + "}")
        .replace("{METHOD}", method)
        .replace("{PATH}", path)
        .replace("{KIND}", kind)
        .replace("{LIMIT}", str(max(1, requests // threads)))
        .replace("{SECRET}", secret)
        .replace("{PREFIX}", prefix)
        .replace("{EXPECT}", str(expect))
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", f.name, base + path],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(f.name)
    errors = [line for line in out.stderr.splitlines() if line.startswith("status")]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["bad_status"] = len(errors)
    if errors:
        print(errors[0], file=sys.stderr)
    # wrk waits out its duration even when the threads stopped at their request limit; then the rate comes from
    # the mean latency of the closed loop instead (Little's law: clients / mean time per request).
    capped = result["requests"] >= threads * max(1, requests // threads)
    rate = clients / (result["mean_us"] / 1e6) if capped else result["requests"] / (result["duration_us"] / 1e6)
    return {
        "rate": rate,
        "capped": capped,
        "requests": result["requests"],
        "p50_ms": result["p50_us"] / 1000,
        "p95_ms": result["p95_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "errors": result["errors"] + result["bad_status"],
    }


def run_python(
    *,
    base: str,
    path: str,
    method: str,
    kind: str,
    expect: int,
    secret: str,
    orders: list[str],
    requests: int,
    seconds: int,
    clients: int,
    prefix: str,
) -> dict:
    import requests as http

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    per_client = max(1, requests // clients)

    def client(c: int) -> None:
        session = http.Session()
        session.headers.update({"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
        mine = []
        for n in range(per_client):
            if time.perf_counter() > deadline:
                break
            body = orders[(n * 7 + c) % len(orders)].replace("@ID@", f"{prefix}{c}-{n}") if kind == "order" else None
            t = time.perf_counter()
            response = session.request(method, base + path, data=body)
            mine.append(time.perf_counter() - t)
            if response.status_code != expect:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "rate": len(latencies) / elapsed,
        "capped": False,
        "requests": len(latencies),
        "p50_ms": q[49] * 1000,
        "p95_ms": q[94] * 1000,
        "p99_ms": q[98] * 1000,
        "errors": errors[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000, help="at most this many requests per run")
    parser.add_argument("--seconds", type=int, default=20, help="and at most this long")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--driver", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python")
    args = parser.parse_args()

    setup_django()
    from bench_fixtures import ingest_buyers, ingest_shop, order_payloads
    from django.conf import settings

    from shops.services import SYSTEM, apikey_create
    from shops.tenancy import shop_scope

    shop = ingest_shop()
    buyers = ingest_buyers(shop, sample=2000)
    with shop_scope(shop):
        _key, secret = apikey_create(shop=shop, actor=SYSTEM, name="bench single")
    templates = []
    for payload in order_payloads(buyers, count=1000, prefix="", seed=11):
        payload["external_id"] = "@ID@"
        templates.append(json.dumps(payload, ensure_ascii=False))

    with gunicorn_serving("config.wsgi", workers=args.workers) as base:
        drive = run_wrk if args.driver == "wrk" else run_python
        common = {"base": base, "secret": secret, "orders": templates, "clients": args.clients}
        run = f"{int(time.time()) % 10**8}"
        # Warm every worker (connections, imports) before measuring.
        drive(path="/healthz", method="GET", kind="", expect=200, requests=400, seconds=5, prefix="", **common)
        drive(
            path="/api/v1/orders/",
            method="POST",
            kind="order",
            expect=201,
            requests=200,
            seconds=5,
            prefix=f"W{run}-",
            **common,
        )
        best: dict[str, dict] = {}
        for r in range(args.rounds):
            for name, path, method, kind, expect in (
                ("healthz", "/healthz", "GET", "", 200),
                ("orders", "/api/v1/orders/", "POST", "order", 201),
            ):
                result = drive(
                    path=path,
                    method=method,
                    kind=kind,
                    expect=expect,
                    requests=args.requests,
                    seconds=args.seconds,
                    prefix=f"G{run}{r}-",
                    **common,
                )
                print(name, {k: round(v, 1) for k, v in result.items()}, file=sys.stderr, flush=True)
                if name not in best or result["rate"] > best[name]["rate"]:
                    best[name] = result

    ours, base_line = best["orders"], best["healthz"]
    report(
        "orders_single_api_concurrent",
        figure=ours["rate"],
        baseline=base_line["rate"],
        unit="orders/s",
        p50_ms=round(ours["p50_ms"], 1),
        p95_ms=round(ours["p95_ms"], 1),
        p99_ms=round(ours["p99_ms"], 1),
        errors=ours["errors"],
        requests=ours["requests"],
        seconds=args.seconds,
        baseline_capped=base_line["capped"],
        baseline_p50_ms=round(base_line["p50_ms"], 1),
        baseline_p95_ms=round(base_line["p95_ms"], 1),
        baseline_p99_ms=round(base_line["p99_ms"], 1),
        clients=args.clients,
        workers=args.workers,
        driver=args.driver,
        throttle_store="redis" if settings.REDIS_URL else "memory",
        load_avg=[round(x, 2) for x in os.getloadavg()],
    )


if __name__ == "__main__":
    main()
