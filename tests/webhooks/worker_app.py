"""The Celery app of the worker that tests/webhooks/test_worker.py starts as a subprocess: the project's app on the
queue the test names, with a broker visibility timeout, a claim lease and sender slots short enough for a killed
worker's delivery to come back within the test (the production values: a claim lapses after BATCH x 20 s, a slot
after 30 s)."""

import os

from celery.signals import worker_init

from config.celery import app

app.conf.task_default_queue = os.environ["PROBE_QUEUE"]
app.conf.broker_transport_options = {"visibility_timeout": float(os.environ.get("PROBE_VISIBILITY", "10"))}
app.conf.worker_prefetch_multiplier = 1


@worker_init.connect
def _short_leases(**_kwargs) -> None:
    from webhooks import sending, tasks

    sending.CLAIM_LEASE = float(os.environ.get("PROBE_CLAIM_LEASE", "3"))
    tasks.SLOT_LEASE = int(os.environ.get("PROBE_SLOT_LEASE", "2"))
