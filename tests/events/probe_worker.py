"""The Celery app of the worker that test_worker starts as a subprocess: the project's app, on the queue the test
names, with a probe consumer of domain events registered.

The probe applies each event in the feed's transaction (one row per event id in a table the test made, counting
how often it was applied), counts deliveries in Redis outside that transaction, and sleeps in every chunk, so that
the test can kill the worker while a chunk is applied and not yet committed."""

import os
import time

import redis
from celery.signals import worker_init
from django.db import connection

from config.celery import app

app.conf.task_default_queue = os.environ["PROBE_QUEUE"]
_redis = redis.Redis.from_url(os.environ["PROBE_REDIS_URL"])
TABLE = os.environ.get("PROBE_TABLE", "events_probe_applied")


def probe(*, shop, events) -> None:
    _redis.incrby("probe:delivered", len(events))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {TABLE} (event_id, applied) VALUES (%s, 1) "  # noqa: S608 - the test's table
            "ON CONFLICT (event_id) DO UPDATE SET applied = " + TABLE + ".applied + 1",
            [[str(e.id)] for e in events],
        )
    _redis.incr("probe:chunks")
    time.sleep(float(os.environ.get("PROBE_SLEEP", "0.2")))  # applied, not committed: the window to be killed in


@worker_init.connect
def _register(**_kwargs) -> None:
    from events.consumers import Consumer, register_consumer

    register_consumer(Consumer("test.probe", handle=probe, chunk=50))
