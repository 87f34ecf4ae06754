"""The Celery app of the worker that bench/automations.py starts for its lag scenario: the project's app on the
queue the benchmark names, and a bare task for the baseline hop (a Celery task's trip from publish to start)."""

import os
import time

import redis

from config.celery import app

app.conf.task_default_queue = os.environ["BENCH_QUEUE"]
_redis = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


@app.task(name="bench.automations_hop")
def hop(sent: float) -> None:
    _redis.rpush("bench:automations_hop", time.time() - sent)
