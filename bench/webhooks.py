"""Webhooks (issue 23): the lag from commit to delivery with real workers, and a hanging endpoint's effect on a
healthy one.

Scenario `webhooks_lag`: this process commits `--rate` events a second (transactions of `--batch` events, each
event stamped with the time just before its commit) for `--seconds`, to a shop with one endpoint on a local receiver
(http.server in a thread of this process); two Celery worker processes (prefork, 2) number, feed, insert the
deliveries and send them. Figure: the p95 of receipt time less commit time (target < 2 s), and deliveries a second.

Scenario `webhooks_hanging`: the same, with a second endpoint of the shop whose receiver holds every request past
the 15 s timeout. Figure: the healthy endpoint's p95, against the first scenario's (target: within 10%).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        CELERY_BROKER_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/webhooks.py [--rate 1000 --seconds 20]
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness import report, setup_django

SLUG = "bench-webhooks"
ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Receiver:
    """Records each body's lag (now less the event's stamp), or holds every request for `hang` seconds."""

    def __init__(self, hang: float = 0.0):
        self.lags: list[float] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if hang:
                    time.sleep(hang)
                else:
                    receiver.lags.append(time.time() - json.loads(body)["data"]["t"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/in"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--batch", type=int, default=10, help="events per transaction")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pool", default="prefork", help="the workers' pool: prefork or threads")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (or threads)")
    parser.add_argument("--scenarios", default="webhooks_lag,webhooks_hanging")
    args = parser.parse_args()
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not broker_url:
        sys.exit("Set CELERY_BROKER_URL (Redis): the scenarios need real workers.")
    os.environ.update(WEBHOOK_ALLOW_HTTP="true", WEBHOOK_ALLOW_LOOPBACK="true")
    setup_django()
    from django.db import transaction
    from django_scopes import scopes_disabled

    from config.celery import app
    from events.models import Cursor, Event, Stream
    from events.outbox import NewEvent, emit_many
    from events.types import EventType
    from shops.models import Shop
    from shops.services import SYSTEM, shop_create, user_ensure
    from shops.tenancy import shop_scope
    from webhooks.models import Attempt, Delivery, Endpoint
    from webhooks.services import endpoint_create

    queue = f"bench-webhooks-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue  # this process's nudges go to the benchmark's workers

    def fresh_shop() -> Shop:
        with scopes_disabled():
            old = Shop.objects.filter(slug=SLUG).first()
            if old:
                for model in (Attempt, Delivery, Endpoint, Event, Cursor, Stream):
                    model.objects.filter(shop=old).delete()
            return old or shop_create(name="Bench webhooks", slug=SLUG, owner=user_ensure(email=f"{SLUG}@example.com"))

    env = {**os.environ, "BENCH_QUEUE": queue, "DEBUG": "false"}
    command = [
        sys.executable, "-m", "celery", "-A", "bench.webhooks_worker", "worker", f"--pool={args.pool}",
        f"--concurrency={args.concurrency}", "-l", "WARNING",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    worker = subprocess.Popen(command, cwd=ROOT, env=env)
    time.sleep(8)  # the workers start

    def run(scenario: str, *, hanging: bool, baseline: float) -> float:
        shop = fresh_shop()
        healthy = Receiver()
        with shop_scope(shop):
            endpoint_create(shop=shop, actor=SYSTEM, url=healthy.url, event_types=["points.posted"])
            if hanging:
                endpoint_create(shop=shop, actor=SYSTEM, url=Receiver(hang=20).url, event_types=["points.posted"])
            interval = args.batch / args.rate
            started = time.monotonic()
            sent = 0
            while time.monotonic() - started < args.seconds:
                due = started + sent / args.rate
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
                with transaction.atomic():
                    stamp = time.time()
                    emit_many(
                        shop_id=shop.pk,
                        events=[
                            NewEvent(EventType.POINTS_POSTED, i, {"kind": "earn", "points": 1, "t": stamp})
                            for i in range(args.batch)
                        ],
                    )
                sent += args.batch
            elapsed = time.monotonic() - started
            deadline = time.monotonic() + 60
            while len(healthy.lags) < sent and time.monotonic() < deadline:
                time.sleep(0.5)
        lags = healthy.lags
        p95 = percentile(lags, 0.95)
        report(
            scenario,
            figure=p95 * 1000,
            baseline=baseline,
            unit="ms p95 commit to delivery",
            p50_ms=round(percentile(lags, 0.5) * 1000, 1),
            events=sent,
            delivered=len(lags),
            offered_per_s=round(sent / elapsed, 1),
            interval_s=interval,
            pool=f"{args.pool} x {args.concurrency}",
            endpoint_concurrency=int(os.environ.get("WEBHOOK_ENDPOINT_CONCURRENCY", "2")),
        )
        return p95 * 1000

    try:
        wanted = args.scenarios.split(",")
        alone = run("webhooks_lag", hanging=False, baseline=2000) if "webhooks_lag" in wanted else 0
        if "webhooks_hanging" in wanted:
            run("webhooks_hanging", hanging=True, baseline=alone)
    finally:
        worker.terminate()
        worker.wait(30)


if __name__ == "__main__":
    main()
