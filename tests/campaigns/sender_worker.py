"""The Celery app of the worker that tests/campaigns/test_worker.py starts as a subprocess: the project's app on the
queue the test names, with a broker visibility timeout short enough for a killed worker's task to come back within
the test, and senders that run and hold their slot briefly (the production values are minutes: see the report in
the test). SlowFileBackend is the `file` SMS backend taking one message at a time with a pause, so that a SIGKILL
lands in the middle of a batch."""

import os
import time
from pathlib import Path

from celery.signals import worker_init
from django.conf import settings

from config.celery import app
from shops.messaging import write_message_files
from shops.sms import FileBackend

app.conf.task_default_queue = os.environ["PROBE_QUEUE"]
app.conf.broker_transport_options = {"visibility_timeout": float(os.environ.get("PROBE_VISIBILITY", "10"))}
app.conf.worker_prefetch_multiplier = 1

DELAY = float(os.environ.get("PROBE_SMS_DELAY", "0.004"))  # seconds per message


class SlowFileBackend(FileBackend):
    def send_many(self, messages):
        results = []
        for message in messages:
            results += write_message_files(Path(settings.SMS_FILE_PATH), [message])
            time.sleep(DELAY)
        return results


@worker_init.connect
def _short_runs(**_kwargs) -> None:
    from campaigns import tasks

    tasks.RUN_SECONDS = float(os.environ.get("PROBE_RUN_SECONDS", "3"))
    tasks.SLOT_LEASE = int(os.environ.get("PROBE_SLOT_LEASE", "4"))
