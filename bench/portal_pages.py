"""The shopper pages under load: a channel's landing page and the member centre, against gunicorn as deployed.

Scenarios (one JSON line each):
- `portal_landing`: GET /j/<code>/ with no cookies (every request a new visitor: the visit and the unique visitor
  are counted, a visitor cookie and a CSRF cookie are set), on a channel with a headline, benefits, welcome points
  and two welcome coupons, in a shop with the default four tiers.
- `portal_member_centre`: GET /m/<slug>/me/ with a logged-in session cookie (Django's database sessions, as
  configured), for a member who joined through that channel (welcome points and coupons), has twelve orders and so
  a tier progress to compute, and points expiring within the reminder period.

Each from `--clients` concurrent keep-alive clients (wrk, 2 threads) against gunicorn with `--workers` sync workers
on loopback (production settings, DEBUG off). Baseline, the same load in the same run: GET /healthz (a database
query and a cache round trip behind the same middleware). Figures: requests/s, wrk's p50/p95/p99 latency (what a
client waits, the listen queue included) and the server time (each request's time in a gunicorn worker, from its
access log), best round of `--rounds` interleaved rounds (by p95); every answer must be a 200. Page weight: the
page's HTML as served plus the CSS and JS it links (the files, found through the staticfiles finders), without and
with gzip.

    createdb -h 127.0.0.1 -U postgres huiyuan_bench_portal
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench_portal REDIS_URL=redis://127.0.0.1:6379/10 \\
        .venv/bin/python bench/portal_pages.py [--seconds 15] [--rounds 3] [--clients 16] [--workers 4]
"""

import argparse
import datetime
import gzip
import os
import re
import shutil
import statistics
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from harness import gunicorn_serving, report, server_times_ms, setup_django, wrk_run

ROOT = Path(__file__).resolve().parent.parent
THREADS = 2
SLUG = "bench-portal"
PHONE = "13800138000"

LUA = r"""
local cookie = "{COOKIE}"
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    ok, other = 0, 0
    if cookie ~= "" then wrk.headers["Cookie"] = cookie end
    wrk.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
end

function response(status, headers, body)
    if status == 200 then ok = ok + 1
    else
        other = other + 1
        if other <= 3 then io.stderr:write("status " .. status .. ": " .. string.sub(body, 1, 200) .. "\n") end
    end
end

function done(summary, latency, requests)
    local t = {ok = 0, other = 0}
    for _, thread in ipairs(threads) do
        t.ok = t.ok + thread:get("ok")
        t.other = t.other + thread:get("other")
    end
    io.write(string.format(
        '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "errors": %d, ' ..
        '"ok": %d, "other": %d}\n',
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, t.ok, t.other))
end
"""


def run_wrk(*, base: str, path: str, cookie: str, seconds: int, clients: int) -> dict:
    result = wrk_run(LUA.replace("{COOKIE}", cookie), base + path, threads=THREADS, clients=clients, seconds=seconds)
    keep = ("rate", "requests", "p50_ms", "p95_ms", "p99_ms", "errors", "ok", "other")
    return {name: result[name] for name in keep}


def prepare():
    """The bench shop, its channel, a member who joined through it with orders and expiring points, and a session
    in which that member is logged in. Made through the services; reused by later runs."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.utils import timezone

    from coupons.services import template_create
    from members.models import Member
    from members.services import Enrolment, member_enroll
    from orders.services import ItemInput, OrderInput, orders_record
    from points.services import points_earn
    from recruitment.channels import ChannelInput, channel_create
    from recruitment.models import Channel
    from shops.models import Shop
    from shops.selectors import shop_by_slug
    from shops.services import SYSTEM, shop_create, user_ensure
    from shops.tenancy import shop_scope

    call_command("migrate", verbosity=0)
    try:
        shop = shop_by_slug(slug=SLUG)
    except Shop.DoesNotExist:
        shop = shop_create(name="会员体验店", slug=SLUG, owner=user_ensure(email="bench-portal@example.com"))
    with shop_scope(shop):
        channel = Channel.objects.filter(shop=shop, name="门店收银台").first()
        if channel is None:
            templates = [
                template_create(
                    shop=shop,
                    actor=SYSTEM,
                    data={"name": name, "kind": "amount_off", "value": value, "min_spend": minimum, "valid_days": 30},
                )
                for name, value, minimum in (
                    ("新人满100减20", Decimal(20), Decimal(100)),
                    ("新人满300减50", Decimal(50), Decimal(300)),
                )
            ]
            channel = channel_create(
                shop=shop,
                actor=SYSTEM,
                data=ChannelInput(
                    name="门店收银台",
                    headline="扫码入会领好礼",
                    benefits="积分当钱花\n生日当月双倍积分\n会员专享价",
                    welcome_points=100,
                    welcome_coupon_ids=[t.pk for t in templates],
                ),
            )
        member, created = member_enroll(
            shop=shop, data=Enrolment(phone=PHONE, name="韩梅梅", channel=channel.code), source="portal"
        )
        if created:
            now = timezone.now()
            orders_record(
                shop=shop,
                orders=[
                    OrderInput(
                        external_id=f"bench-portal-{n}",
                        amount=Decimal("58.00"),
                        member_id=member.pk,
                        paid_at=now - datetime.timedelta(days=20 * n + 1),
                        items=(ItemInput(sku="TEA-1", quantity=2, unit_price=Decimal("29.00")),),
                    )
                    for n in range(12)
                ],
            )
            points_earn(
                shop=shop,
                member=member,
                points=40,
                idempotency_key="bench-portal-expiring",
                expires_at=now + datetime.timedelta(days=10),
            )
        member = Member.objects.get(shop=shop, pk=member.pk)
    session = SessionStore()
    session[f"portal:{shop.pk}"] = member.pk
    session.create()
    return shop, channel, member, session.session_key


def page_weight(base: str, path: str, cookie: str) -> dict:
    """The HTML as served plus the CSS and JS it links, in bytes, raw and gzipped (as a server would send them)."""
    import requests as http
    from django.contrib.staticfiles import finders

    response = http.get(base + path, headers={"Cookie": cookie} if cookie else {}, timeout=10)
    assert response.status_code == 200, (path, response.status_code)
    parts = {"html": response.content}
    for asset in re.findall(r'(?:href|src)="/static/([^"]+\.(?:css|js))"', response.text):
        parts[asset] = Path(finders.find(asset)).read_bytes()
    return {
        "bytes": sum(len(b) for b in parts.values()),
        "gzip_bytes": sum(len(gzip.compress(b)) for b in parts.values()),
        "parts": {name: len(b) for name, b in parts.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15, help="each measured run")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (apt-get install wrk)")

    # The session is written here and read by gunicorn: both must sign with the key harness.gunicorn_serving sets.
    os.environ["SECRET_KEY"] = "bench-" + "x" * 50
    setup_django()
    from django.conf import settings

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    shop, channel, member, session_key = prepare()
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}"
    scenarios = {
        "healthz": ("/healthz", ""),
        "portal_landing": (f"/j/{channel.code}/", ""),
        "portal_member_centre": (f"/m/{shop.slug}/me/", cookie),
    }

    log_fd, log_path = tempfile.mkstemp(prefix="portal-pages-gunicorn-", suffix=".log")
    print(f"gunicorn log: {log_path}", file=sys.stderr, flush=True)
    access_log = log_path.replace(".log", "-access.log")
    offset = 0
    with gunicorn_serving("config.wsgi", workers=args.workers, log=log_fd, access_log=access_log) as base:
        os.close(log_fd)
        weights = {name: page_weight(base, path, c) for name, (path, c) in scenarios.items() if name != "healthz"}
        for path, c in scenarios.values():  # warm every worker on every page
            run_wrk(base=base, path=path, cookie=c, seconds=3, clients=args.clients)
        best: dict[str, dict] = {}
        for r in range(args.rounds):
            for name, (path, c) in scenarios.items():
                load = os.getloadavg()
                _before, offset = server_times_ms(access_log, offset, path)
                result = run_wrk(base=base, path=path, cookie=c, seconds=args.seconds, clients=args.clients)
                times, offset = server_times_ms(access_log, offset, path)
                cuts = statistics.quantiles(times, n=100)
                result["server_p50_ms"], result["server_p95_ms"] = cuts[49], cuts[94]
                result["load_avg"] = [round(x, 2) for x in load]
                print(
                    r,
                    name,
                    {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()},
                    file=sys.stderr,
                    flush=True,
                )
                if result["other"] or result["errors"]:
                    print(f"{name}: answers other than 200 in round {r}", file=sys.stderr, flush=True)
                    continue
                if name not in best or result["p95_ms"] < best[name]["p95_ms"]:
                    best[name] = result

    health = best["healthz"]
    for name in ("portal_landing", "portal_member_centre"):
        ours = best.get(name)
        if ours is None:
            print(f"{name}: no round answered only 200s", file=sys.stderr)
            continue
        report(
            name,
            figure=ours["rate"],
            baseline=health["rate"],
            unit="requests/s",
            p50_ms=round(ours["p50_ms"], 1),
            p95_ms=round(ours["p95_ms"], 1),
            p99_ms=round(ours["p99_ms"], 1),
            server_p50_ms=round(ours["server_p50_ms"], 1),
            server_p95_ms=round(ours["server_p95_ms"], 1),
            baseline_healthz_server_p95_ms=round(health["server_p95_ms"], 1),
            requests=ours["requests"],
            page_bytes=weights[name]["bytes"],
            page_gzip_bytes=weights[name]["gzip_bytes"],
            page_parts=weights[name]["parts"],
            baseline_healthz_p50_ms=round(health["p50_ms"], 1),
            baseline_healthz_p95_ms=round(health["p95_ms"], 1),
            seconds=args.seconds,
            clients=args.clients,
            workers=args.workers,
            load_avg_at_start=load_at_start,
            load_avg=ours["load_avg"],
            cache="redis" if settings.REDIS_URL else "memory",
        )


if __name__ == "__main__":
    main()
