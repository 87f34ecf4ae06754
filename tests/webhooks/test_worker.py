"""At least once with a real Celery worker on Redis (SPEC 17): the worker is killed with SIGKILL while the receiver
holds its request (the delivery claimed, the outcome unknown to us); a second worker, brought to the endpoint by the
tick (sent here every second, beat's every 5 s), sends the delivery again once its claim has lapsed, with the same
webhook-id and the same body, and records it delivered."""

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
from django.db import connection
from standardwebhooks.webhooks import Webhook

from webhooks.models import Attempt, Delivery, DeliveryStatus

from .conftest import events_emitted
from .receiver import Reply

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


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
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOW_LOOPBACK": "true",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "tests.webhooks.worker_app", "worker", "--pool=solo",
        "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _wait(condition, timeout: float, what: str, every=None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        if every:
            every()
        time.sleep(1 if every else 0.05)


def test_a_worker_killed_mid_delivery_still_delivers_with_the_same_id(shop, endpoint, receiver, tmp_path, monkeypatch):
    # given: an event whose delivery row exists, its sending left to the workers (not run here, eagerly)
    monkeypatch.setattr("webhooks.consumers.send_on_commit", lambda *args: None)
    events_emitted(shop, ("member.joined", 42, {"source": "api"}))
    delivery = Delivery.objects.get(endpoint=endpoint)
    # the receiver holds the first request past the kill, then answers the next one
    receiver.script = [Reply(200, delay=30)]
    queue = f"webhooks-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    broker = Celery(broker=_redis_url(), set_as_current=False)  # the eager app stays this process's

    first = _worker(queue, log)
    try:
        broker.send_task("webhooks.tasks.webhook_send", args=[shop.pk, endpoint.pk], queue=queue)
        _wait(lambda: len(receiver.received) == 1, 60, "the worker's request to reach the receiver")
        # when: the worker dies mid-request
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1), log.read_text()[-3000:]
    assert not Attempt.objects.exists()  # the outcome never came back

    second = _worker(queue, log)
    try:
        _wait(
            lambda: Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SUCCEEDED).exists(),
            60,
            "the second worker to deliver",
            every=lambda: broker.send_task("webhooks.tasks.webhooks_tick", queue=queue),
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
        broker.close()
        # what the killed worker left unacknowledged would come back to a queue no one reads
        redis.Redis.from_url(_redis_url()).delete(queue, f"_kombu.binding.{queue}", "unacked", "unacked_index")

    # then: sent again, with the same id and body, verifiable; recorded once as delivered
    first_request, second_request = receiver.received[:2]
    assert first_request.headers["webhook-id"] == second_request.headers["webhook-id"] == str(delivery.event_id)
    assert first_request.body == second_request.body
    Webhook(endpoint.plain_secret).verify(second_request.body, second_request.headers)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 2, 200)
    assert list(Attempt.objects.values_list("status_code", flat=True)) == [200]
