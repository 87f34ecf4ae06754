"""The Celery app of the workers that bench/webhooks.py starts: the project's app on the queue the benchmark names,
allowed to reach the benchmark's receivers on loopback."""

import os

from config.celery import app

app.conf.task_default_queue = os.environ["BENCH_QUEUE"]
