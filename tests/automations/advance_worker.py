"""The Celery app of the worker that tests/automations/test_worker.py starts: the campaigns probe worker's app
(tests/campaigns/sender_worker: the test's queue, a short visibility timeout, the slowed `file` SMS backend), with
automation steps in small batches, so that a SIGKILL lands between two of an automation's transactions."""

from celery.signals import worker_init

from tests.campaigns.sender_worker import app

__all__ = ["app"]


@worker_init.connect
def _small_batches(**_kwargs) -> None:
    from automations import steps

    steps.BATCH = 40
