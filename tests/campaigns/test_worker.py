"""Exactly once with a real Celery worker on Redis (SPEC 12): the worker is killed with SIGKILL in the middle of a
batch handed to the provider (the `file` backend, slowed down), a second worker is started, and the minute tick
(sent here every second) settles the dead worker's claims from the provider and brings senders back. At the end
every member has exactly one message file, none has two, every row is sent and the campaign is done."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.db import connection

from campaigns.models import Campaign, CampaignStatus, Message, MessageStatus
from members.services import Enrolment, members_bulk_enroll
from tests.campaigns.helpers import draft
from tests.concurrency import in_scope

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
MEMBERS = 2_000


def _redis_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _worker(queue: str, sms_dir: Path, log: Path, app: str = "tests.campaigns.sender_worker") -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": _redis_url(),
        "CELERY_BROKER_URL": _redis_url(),
        "PROBE_QUEUE": queue,
        "SMS_BACKEND": "tests.campaigns.sender_worker.SlowFileBackend",
        "SMS_FILE_PATH": str(sms_dir),
        "SMS_RATE_LIMIT": "1000000",
        "CAMPAIGN_CLAIM_LEASE_SECONDS": "2",
    }
    command = [
        sys.executable, "-m", "celery", "-A", app, "worker", "--pool=solo",
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
        time.sleep(1 if every else 0.02)


def _files(sms_dir: Path) -> list[Path]:
    return list(sms_dir.glob("*.json"))


def test_a_worker_killed_mid_batch_sends_each_member_exactly_once(shop, tmp_path, monkeypatch):
    # given: 2,000 members with SMS consent and a campaign started (its tasks go to the workers, not run here)
    monkeypatch.setattr("campaigns.services._dispatch", lambda *args: None)
    phones = [f"+86138{n:08d}" for n in range(MEMBERS)]
    in_scope(shop, lambda: members_bulk_enroll(
        shop=shop, enrolments=[Enrolment(phone=p, consents={"sms": True}) for p in phones], source="import"
    ))()  # fmt: skip
    from campaigns.services import campaign_send
    from shops.services import SYSTEM

    campaign = in_scope(shop, lambda: campaign_send(shop=shop, actor=SYSTEM, campaign=draft(shop, holdout_percent=0)))()
    assert campaign.status == CampaignStatus.SENDING

    queue = f"campaigns-{uuid.uuid4().hex[:8]}"
    sms_dir, log = tmp_path / "sms", tmp_path / "worker.log"
    broker = Celery(broker=_redis_url(), set_as_current=False)  # the eager app stays this process's

    def tick():
        broker.send_task("campaigns.tasks.campaigns_tick", queue=queue)  # beat's minute tick, every second here

    first = _worker(queue, sms_dir, log)
    try:
        broker.send_task("campaigns.tasks.campaign_snapshot", args=[shop.pk, campaign.pk], queue=queue)
        # mid-batch: at least one batch of 200 done, and the next one (one message at a time) half written
        _wait(lambda: (n := len(_files(sms_dir))) >= 250 and 50 <= n % 200 <= 150, 40, "the worker to be mid-batch")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = len(_files(sms_dir))
    rows = Message.objects.filter(shop=shop, campaign=campaign)
    in_flight = rows.filter(status=MessageStatus.SENDING).count()
    assert 0 < at_kill < MEMBERS, log.read_text()[-3000:]
    assert in_flight > 0  # the batch the provider was taking: its rows' outcome unknown to us

    second = _worker(queue, sms_dir, log)
    try:
        _wait(
            lambda: Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.DONE).exists(),
            60,
            "the second worker to finish the campaign",
            every=tick,
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
        broker.close()
        store = redis.Redis.from_url(_redis_url())
        # what the killed worker left unacknowledged would come back to a queue no one reads
        store.delete(queue, f"_kombu.binding.{queue}", "unacked", "unacked_index")

    # then: one file per member, none twice, every row sent
    sent_to = Counter(json.loads(path.read_text(encoding="utf-8"))["phone"] for path in _files(sms_dir))
    assert set(sent_to) == set(phones), f"{len(set(phones) - set(sent_to))} members got nothing"
    assert set(sent_to.values()) == {1}, [p for p, n in sent_to.items() if n > 1][:10]
    assert Counter(rows.values_list("status", flat=True)) == {MessageStatus.SENT: MEMBERS}
    print(f"killed with {at_kill} files written and {in_flight} rows in flight")  # noqa: T201
