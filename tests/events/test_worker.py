"""At least once, applied once (SPEC 9), with a real Celery worker on Redis: the worker is killed with SIGKILL while
it applies a chunk, another worker is started, and the sweep hands it what the first one left."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.db import connection, transaction

from events.models import Cursor, Stream
from events.outbox import NewEvent, emit_many
from events.types import EventType

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
EVENTS = 1000
TABLE = "events_probe_applied"


def _redis_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _worker(queue: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": _redis_url(),
        "CELERY_BROKER_URL": _redis_url(),
        "PROBE_QUEUE": queue,
        "PROBE_REDIS_URL": _redis_url(),
        "PROBE_TABLE": TABLE,
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tests.events.probe_worker",
        "worker",
        "--pool=solo",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "INFO",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _position(shop) -> int:
    return Cursor.objects.filter(shop=shop, consumer="test.probe").values_list("position", flat=True).first() or 0


@pytest.fixture
def probe_table():
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {TABLE} (event_id uuid PRIMARY KEY, applied int NOT NULL)")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {TABLE}")


def test_a_worker_killed_mid_chunk_loses_no_event_and_applies_none_twice(shop, probe_table, tmp_path):
    queue = f"probe-{uuid.uuid4().hex[:8]}"
    store = redis.Redis.from_url(_redis_url())
    store.delete("probe:delivered", "probe:chunks")
    broker = Celery(broker=_redis_url(), set_as_current=False)  # the eager app stays this process's
    with transaction.atomic():  # numbered in this process as it commits (eager tasks), fed by the workers only
        emit_many(shop_id=shop.pk, events=[NewEvent(EventType.POINTS_POSTED, None, {"n": n}) for n in range(EVENTS)])
    _wait(
        lambda: (Stream.objects.filter(shop=shop).values_list("head", flat=True).first() or 0) == EVENTS,
        10,
        "the events to be numbered",
    )
    log = tmp_path / "worker.log"

    first = _worker(queue, log)
    try:
        broker.send_task("events.tasks.events_feed", args=[shop.pk, "test.probe"], queue=queue)
        _wait(lambda: int(store.get("probe:chunks") or 0) >= 3, 60, "the first worker to be inside a chunk")
        os.kill(first.pid, signal.SIGKILL)  # inside a chunk: applied, not committed
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    stopped_at = _position(shop)
    assert 0 < stopped_at < EVENTS, log.read_text()

    second = _worker(queue, log)
    try:
        broker.send_task("events.tasks.events_sweep", queue=queue)  # as beat does every minute
        _wait(lambda: _position(shop) == EVENTS, 120, "the second worker to catch up")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    broker.close()

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), min(applied), max(applied) FROM {TABLE}")  # noqa: S608
        applied, fewest, most = cursor.fetchone()
    assert (applied, fewest, most) == (EVENTS, 1, 1)  # every event applied, none twice
    delivered = int(store.get("probe:delivered"))
    assert delivered > EVENTS  # the killed chunk was delivered again: at least once, not exactly once
    # What the killed worker left in the broker (its unacknowledged task) would come back to a queue no one reads.
    store.delete("probe:delivered", "probe:chunks", "unacked", "unacked_index", queue, f"_kombu.binding.{queue}")
