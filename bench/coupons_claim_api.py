"""Claims on one hot coupon template through the API, under concurrent clients, against gunicorn as deployed.

Scenario `coupons_claim_api_hot`: POST /api/v1/members/{id}/coupons/ {"template_id", "idempotency_key"} from 16
concurrent keep-alive clients (wrk, 2 threads), against gunicorn with 4 sync workers on loopback (production
settings, DEBUG off, CONN_MAX_AGE as configured, Redis throttle lifted), in bench-big (bench/generate.py). Every
request claims for a different active member with a key of its own. The template (amount off, 30 days, one per
member) gets a stock of about half what the run will request (the claim rate measured in the warm-up x seconds / 2),
so it runs out mid-run and the rest of the run answers 409 out_of_stock.

Figures: claims/s = 201 answers / the time from the first coupon issued to the last (their issued_at, while the
stock lasted); requests/s of the whole run (201 and 409 alike) with wrk's p50/p95/p99 latency over all of them; the
201, 409 out_of_stock, 409 limit_reached and other answers counted apart. Checked after each run: coupons of the
template == stock == template.issued == the 201s, and nobody holds more than one.

Baselines, the same load in the same run: GET /healthz (database, cache and broker checks behind the same
middleware, as bench/ingest_single_api.py), and the raw claim: the same claim written by hand in SQL with the same
locking in a bare Django view behind the same middleware (bench/coupons_claim_urls.py), on a template of its own
with its stock set the same way. The figures are the best of `--rounds` interleaved rounds.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/coupons_claim_api.py [--seconds 20] [--rounds 3] [--clients 16] [--workers 4]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from harness import gunicorn_serving, report, setup_django, wrk_run

ROOT = Path(__file__).resolve().parent.parent
THREADS = 2

LUA = r"""
local members = {MEMBERS}
local nthreads, template = {THREADS}, {TEMPLATE}
local path_format, kind = "{PATH}", "{KIND}"
local threads, counter = {}, 0

function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
    table.insert(threads, thread)
end

function init(args)
    n, c201, c200, c409s, c409l, cother = 0, 0, 0, 0, 0, 0
    wrk.headers["Authorization"] = "Bearer {SECRET}"
    wrk.headers["Content-Type"] = "application/json"
end

function request()
    if kind == "get" then return wrk.format("GET", path_format) end
    n = n + 1
    local i = (n - 1) * nthreads + tid  -- distinct over both threads
    local member = members[(i - 1) % #members + 1]
    local body = string.format('{"template_id": %d, "idempotency_key": "{PREFIX}%d-%d"}', template, tid, n)
    return wrk.format("POST", string.format(path_format, member), nil, body)
end

function response(status, headers, body)
    if status == 201 then c201 = c201 + 1
    elseif status == 200 then c200 = c200 + 1
    elseif status == 409 and string.find(body, "out_of_stock", 1, true) then c409s = c409s + 1
    elseif status == 409 and string.find(body, "limit_reached", 1, true) then c409l = c409l + 1
    else
        cother = cother + 1
        if cother <= 3 then io.stderr:write("status " .. status .. ": " .. string.sub(body, 1, 300) .. "\n") end
    end
end

function done(summary, latency, requests)
    local t = {c201 = 0, c200 = 0, c409s = 0, c409l = 0, cother = 0}
    for _, thread in ipairs(threads) do
        for name, _ in pairs(t) do t[name] = t[name] + thread:get(name) end
    end
    io.write(string.format(
        '{"requests": %d, "duration_us": %d, "mean_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
        '"errors": %d, "s201": %d, "s200": %d, "out_of_stock": %d, "limit_reached": %d, "other": %d}\n',
        summary.requests, summary.duration, latency.mean, latency:percentile(50), latency:percentile(95),
        latency:percentile(99), summary.errors.connect + summary.errors.read + summary.errors.write
            + summary.errors.timeout, t.c201, t.c200, t.c409s, t.c409l, t.cother))
end
"""


def run_wrk(
    *,
    base: str,
    path: str,
    kind: str,
    secret: str,
    members: list[int],
    template: int,
    seconds: int,
    clients: int,
    prefix: str,
) -> dict:
    script = (
        LUA.replace("{MEMBERS}", "{" + ",".join(map(str, members)) + "}")
        .replace("{THREADS}", str(THREADS))
        .replace("{TEMPLATE}", str(template))
        .replace("{PATH}", path)
        .replace("{KIND}", kind)
        .replace("{SECRET}", secret)
        .replace("{PREFIX}", prefix)
    )
    result = wrk_run(script, base + path.replace("%d", "0"), threads=THREADS, clients=clients, seconds=seconds)
    keep = (
        "rate",
        "seconds",
        "requests",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "errors",
        "s201",
        "s200",
        "out_of_stock",
        "limit_reached",
        "other",
    )
    return {name: result[name] for name in keep}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shop", default="bench-big")
    parser.add_argument("--seconds", type=int, default=20, help="each measured run")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--members", type=int, default=200_000, help="active members sampled to claim for")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw-claim baseline")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (apt-get install wrk)")

    setup_django()
    from django.conf import settings
    from django.db import connection

    from coupons.models import CouponTemplate
    from coupons.services import template_create
    from shops.selectors import shop_by_slug
    from shops.services import SYSTEM, apikey_create
    from shops.tenancy import shop_scope

    load_at_start = [round(x, 2) for x in os.getloadavg()]  # before this benchmark adds its own
    shop = shop_by_slug(slug=args.shop)
    scope = shop_scope(shop)
    scope.__enter__()
    _key, secret = apikey_create(shop=shop, actor=SYSTEM, name="bench coupons claim")

    def sql(statement: str, params: list) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    sql("SELECT setseed(0.5)", [])
    members = [
        r[0]
        for r in sql(
            "SELECT id FROM members_member WHERE shop_id = %s AND status = 'active' ORDER BY random() LIMIT %s",
            [shop.pk, args.members],
        )
    ]

    def template_for(name: str) -> CouponTemplate:
        template = CouponTemplate.objects.filter(shop=shop, name=name).first()
        if template is None:
            template = template_create(
                shop=shop,
                actor=SYSTEM,
                data={
                    "name": name,
                    "kind": "amount_off",
                    "value": Decimal("20"),
                    "min_spend": Decimal("100"),
                    "valid_days": 30,
                    "per_member_limit": 1,
                },
            )
        return template

    def reset(template: CouponTemplate, stock: int | None) -> None:
        sql("DELETE FROM coupons_coupon WHERE template_id = %s", [template.pk])
        sql("UPDATE coupons_coupontemplate SET issued = 0, stock = %s WHERE id = %s", [stock, template.pk])
        sql("VACUUM (ANALYZE) coupons_coupon", [])

    def verify(template: CouponTemplate, stock: int, result: dict) -> dict:
        _holders, most, first, last = sql(
            "SELECT count(*), coalesce(max(n), 0), min(f), max(l) FROM (SELECT count(*) AS n, min(issued_at) AS f, "
            "max(issued_at) AS l FROM coupons_coupon WHERE shop_id = %s AND template_id = %s GROUP BY member_id) x",
            [shop.pk, template.pk],
        )[0]
        coupons = sql("SELECT count(*) FROM coupons_coupon WHERE template_id = %s", [template.pk])[0][0]
        issued = sql("SELECT issued FROM coupons_coupontemplate WHERE id = %s", [template.pk])[0][0]
        span = (last - first).total_seconds() if first and last else 0.0
        checks = {
            "stock": stock,
            "coupons": coupons,
            "template_issued": issued,
            "max_per_member": most,
            "span_s": round(span, 2),
            "claims_per_s": result["s201"] / span if span else 0.0,
        }
        checks["ok"] = coupons == stock == issued == result["s201"] and most <= 1 and result["out_of_stock"] > 0
        if not checks["ok"]:
            print(f"CHECK FAILED: {checks} {result}", file=sys.stderr, flush=True)
        return checks

    hot = template_for("bench claim hot")
    raw = template_for("bench claim raw")
    warm = template_for("bench claim warm-up")
    for template in (hot, raw, warm):
        reset(template, None)

    # The server's log (a warning per 409, as in production) goes to a file, not between the figures.
    log_fd, log_path = tempfile.mkstemp(prefix="coupons-claim-gunicorn-", suffix=".log")
    print(f"gunicorn log: {log_path}", file=sys.stderr, flush=True)
    serving = gunicorn_serving("bench.coupons_claim_wsgi", workers=args.workers, log=log_fd)
    base = serving.__enter__()
    os.close(log_fd)
    claim_path = "/api/v1/members/%d/coupons/"
    raw_path = "/bench/raw-claim/%d/"
    run = f"{int(time.time()) % 10**8}"
    offset = [0]

    def slice_members() -> list[int]:
        """A fresh part of the sample for each run, so that no member claims twice across runs."""
        chunk = len(members) // 8
        start = (offset[0] % 8) * chunk
        offset[0] += 1
        return members[start : start + chunk]

    def drive(kind: str, path: str, template: CouponTemplate | None, seconds: int, tag: str) -> dict:
        return run_wrk(
            base=base,
            path=path,
            kind=kind,
            secret=secret,
            members=slice_members(),
            template=template.pk if template else 0,
            seconds=seconds,
            clients=args.clients,
            prefix=f"b{run}-{tag}-",
        )

    try:
        # Warm every worker, and measure the claim rates the stocks are set from (on a template with no stock).
        drive("get", "/healthz", None, 3, "wh")
        estimate = {}
        for name, path in (("api", claim_path), ("raw", raw_path)):
            if name == "raw" and args.no_raw:
                continue
            for lap in ("cold", "warm"):  # the first lap warms the workers; the second measures the claim rate
                w = drive("post", path, warm, 5, f"w{lap}{name}")
                estimate[name] = w["s201"] / w["seconds"]
                print(
                    f"warm-up {name} ({lap}): {w['s201']} claims, {estimate[name]:.0f}/s, other {w['other']}",
                    file=sys.stderr,
                    flush=True,
                )
                reset(warm, None)
        best: dict[str, dict] = {}
        for r in range(args.rounds):
            sides = [("healthz", "get", "/healthz", None), ("api", "post", claim_path, hot)]
            if not args.no_raw:
                sides.append(("raw", "post", raw_path, raw))
            for name, kind, path, template in sides:
                stock = None
                if template is not None:
                    stock = max(1, int(estimate[name] * args.seconds / 2))
                    reset(template, stock)
                load = os.getloadavg()
                result = drive(kind, path, template, args.seconds, f"{r}{name}")
                result["load_avg"] = [round(x, 2) for x in load]
                if template is not None:
                    result.update(verify(template, stock, result))
                    result["figure"] = result["claims_per_s"] if result["ok"] else 0.0
                    if result["ok"]:  # the next round's stock from this round's claim rate
                        estimate[name] = result["claims_per_s"]
                else:
                    result["figure"] = result["rate"]
                print(
                    name,
                    {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()},
                    file=sys.stderr,
                    flush=True,
                )
                if name not in best or result["figure"] > best[name]["figure"]:
                    best[name] = result
    finally:
        serving.__exit__(None, None, None)
        for template in (hot, raw, warm):
            reset(template, None)
        scope.__exit__(None, None, None)

    ours, health = best["api"], best["healthz"]
    raw_best = best.get("raw")
    report(
        "coupons_claim_api_hot",
        figure=ours["figure"],
        baseline=health["rate"],
        unit="claims/s",
        requests_per_s=round(ours["rate"], 1),
        p50_ms=round(ours["p50_ms"], 1),
        p95_ms=round(ours["p95_ms"], 1),
        p99_ms=round(ours["p99_ms"], 1),
        claims=ours["s201"],
        out_of_stock=ours["out_of_stock"],
        limit_reached=ours["limit_reached"],
        other=ours["other"] + ours["errors"],
        stock=ours["stock"],
        stock_span_s=ours["span_s"],
        requests=ours["requests"],
        seconds=args.seconds,
        load_avg_at_start=load_at_start,
        load_avg=ours["load_avg"],
        baseline_healthz_p50_ms=round(health["p50_ms"], 1),
        baseline_healthz_p95_ms=round(health["p95_ms"], 1),
        raw_claims_per_s=round(raw_best["figure"], 1) if raw_best else None,
        raw_requests_per_s=round(raw_best["rate"], 1) if raw_best else None,
        raw_p50_ms=round(raw_best["p50_ms"], 1) if raw_best else None,
        raw_p95_ms=round(raw_best["p95_ms"], 1) if raw_best else None,
        ratio_to_raw_claim=round(ours["figure"] / raw_best["figure"], 3) if raw_best and raw_best["figure"] else None,
        clients=args.clients,
        workers=args.workers,
        throttle_store="redis" if settings.REDIS_URL else "memory",
    )


if __name__ == "__main__":
    main()
