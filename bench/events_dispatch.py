"""Domain events: feeding a consumer, and the lag from commit to consumer with a real worker.

Scenario `events_feed_100k`: 100,000 events of one shop (written beforehand, not timed) numbered by the sequencer
and fed to a no-op consumer through events.consumers.consumer_feed_chunk (cursor lock, chunk read, cursor moved:
a transaction per 1,000 events), in this process. Baseline: the same numbering as one raw UPDATE and the same
events read by raw keyset SELECTs of 1,000, without cursor or lock. Figure: seconds (target < 10).

Scenario `events_lag`: a real Celery worker on Redis (prefork, 2 processes) and this process committing a
transaction with one event every `1/--rate` seconds for `--seconds`: the lag from commit to the consumer (p50, p95;
target p95 < 2 s), beside the baseline of a bare Celery task's trip from publish to start, sent at the same pace.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        CELERY_BROKER_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/events_dispatch.py [--events 100000]
"""

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from harness import report, setup_django

SLUG = "bench-events"
ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=100.0, help="transactions per second in the lag scenario")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not broker_url:
        sys.exit("Set CELERY_BROKER_URL (Redis): the lag scenario needs a real worker.")
    setup_django()
    import redis
    from celery import Celery
    from django.db import connection, transaction

    from config.celery import app
    from events.consumers import Consumer, consumer_feed_chunk
    from events.dispatch import sequence
    from events.models import Cursor, Event, Stream
    from events.outbox import COLUMNS, emit, uuid7
    from events.types import EventType
    from shops.bulk import insert_rows
    from shops.models import Shop
    from shops.services import shop_create, user_ensure
    from shops.tenancy import all_shops, shop_scope

    with all_shops():
        old = Shop.objects.filter(slug=SLUG).first()
        if old:
            for model in (Event, Cursor, Stream):
                model.objects.filter(shop=old).delete()
        shop = old or shop_create(name="Bench events", slug=SLUG, owner=user_ensure(email=f"{SLUG}@example.com"))

    def write(n: int) -> None:
        """n events, never nudged (so nothing feeds them but the scenario)."""
        from django.utils import timezone

        now = timezone.now()
        for start in range(0, n, 10_000):
            rows = [
                (uuid7(), shop.pk, "points.posted", i, now, {"kind": "earn", "points": i % 97, "key": f"k{i}"})
                for i in range(start, min(n, start + 10_000))
            ]
            with transaction.atomic():
                insert_rows("events_event", COLUMNS, rows)

    def reset() -> None:
        with all_shops():
            for model in (Event, Cursor, Stream):
                model.objects.filter(shop=shop).delete()

    # --- feed
    noop = Consumer("bench.noop", handle=lambda *, shop, events: None)
    with shop_scope(shop):
        reset()
        write(args.events)
        started = time.perf_counter()
        sequence(shop_id=shop.pk)
        numbered = time.perf_counter() - started
        while not consumer_feed_chunk(shop=shop, consumer=noop):
            pass
        ours = time.perf_counter() - started
        print(f"numbering {numbered:.1f} s, feeding {ours - numbered:.1f} s", file=sys.stderr, flush=True)
        assert Cursor.objects.get(shop=shop, consumer="bench.noop").position == args.events

        reset()
        write(args.events)
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """WITH n AS (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS seq FROM events_event WHERE shop_id = %s)
                   UPDATE events_event e SET seq = n.seq FROM n WHERE e.shop_id = %s AND e.id = n.id""",
                [shop.pk, shop.pk],
            )
        last = 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id, shop_id, type, member_id, occurred_at, seq, payload FROM events_event "
                    "WHERE shop_id = %s AND seq > %s ORDER BY seq LIMIT 1000",
                    [shop.pk, last],
                )
                rows = cursor.fetchall()
            if not rows:
                break
            last = rows[-1][5]
        baseline = time.perf_counter() - started
    report("events_feed_100k", figure=ours, baseline=baseline, unit="s", events=args.events)

    # --- lag, with a real worker
    queue = f"bench-events-{uuid.uuid4().hex[:8]}"
    store = redis.Redis.from_url(broker_url)
    store.delete("bench:lag", "bench:hop")
    env = {**os.environ, "BENCH_QUEUE": queue, "BENCH_REDIS_URL": broker_url, "DEBUG": "false"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.events_worker",
            "worker",
            "--concurrency=2",
            "-l",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
    )
    sender = Celery(broker=broker_url, set_as_current=False)
    try:
        time.sleep(5)  # the worker starts
        app.conf.task_default_queue = queue  # where the commits' nudges go
        reset()
        sent = 0
        started = time.perf_counter()
        while time.perf_counter() - started < args.seconds:
            with transaction.atomic():
                emit(shop_id=shop.pk, type=EventType.POINTS_POSTED, member_id=None, payload={"t": time.time()})
            sender.send_task("bench.hop", args=[time.time()], queue=queue)
            sent += 1
            time.sleep(max(0.0, started + sent / args.rate - time.perf_counter()))
        deadline = time.monotonic() + 30
        while store.llen("bench:lag") < sent and time.monotonic() < deadline:
            time.sleep(0.2)
        lags = [float(v) for v in store.lrange("bench:lag", 0, -1)]
        hops = [float(v) for v in store.lrange("bench:hop", 0, -1)]
    finally:
        worker.terminate()
        worker.wait(30)
        sender.close()
    report(
        "events_lag_p95",
        figure=percentile(lags, 0.95) * 1000,
        baseline=percentile(hops, 0.95) * 1000,
        unit="ms",
        p50_ms=round(percentile(lags, 0.5) * 1000, 1),
        received=len(lags),
        sent=sent,
        hop_p50_ms=round(percentile(hops, 0.5) * 1000, 1),
        rate=args.rate,
    )
    reset()


if __name__ == "__main__":
    main()
