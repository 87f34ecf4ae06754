"""The Celery app of the worker that bench/events_dispatch.py starts: the project's app on the queue the benchmark
names, with a consumer that records each event's lag from its commit, and a bare task for the baseline hop."""

import os
import time

import redis
from celery.signals import worker_init

from config.celery import app

app.conf.task_default_queue = os.environ["BENCH_QUEUE"]
_redis = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


def lag_recorder(*, shop, events) -> None:
    """The lag of each event: now, less the time its writer stamped just before committing."""
    now = time.time()
    _redis.rpush("bench:lag", *[now - e.payload["t"] for e in events])


@app.task(name="bench.hop")
def hop(sent: float) -> None:
    """The baseline: a bare Celery task's trip from publish to start."""
    _redis.rpush("bench:hop", time.time() - sent)


@worker_init.connect
def _register(**_kwargs) -> None:
    from events.consumers import Consumer, register_consumer

    register_consumer(Consumer("bench.lag", handle=lag_recorder))
