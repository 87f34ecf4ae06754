"""Exactly once with a real Celery worker on Redis (SPEC 13): an automation's steps (a coupon, then an SMS naming
it) run by a worker killed with SIGKILL between two of its batches; a second worker, fed the minute ticks, carries
on. At the end every member has exactly one coupon of the step and exactly one message file, none has two."""

import json
import os
import signal
import uuid
from collections import Counter

import pytest
import redis
from celery import Celery
from django.db import transaction

from automations.entry import journeys_enter
from automations.models import Journey, JourneyStatus, Step, StepKind
from coupons.models import Coupon
from members.models import Member
from members.services import Enrolment, members_bulk_enroll
from tests.campaigns.test_worker import _files, _redis_url, _wait, _worker
from tests.concurrency import in_scope
from tests.coupons.helpers import make_template

from .helpers import switch_on

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
MEMBERS = 1_200


def test_a_worker_killed_between_batches_rewards_and_messages_each_member_once(shop, tmp_path, monkeypatch):
    # given: members first (the automation off), then the welcome automation with a coupon before its message, and
    # the members' journeys entered as the trigger enters them, not yet advanced
    phones = [f"+86137{n:08d}" for n in range(MEMBERS)]
    in_scope(shop, lambda: members_bulk_enroll(
        shop=shop, enrolments=[Enrolment(phone=p, consents={"sms": True}) for p in phones], source="import"
    ))()  # fmt: skip

    def set_up():
        welcome = switch_on(shop, "welcome")
        Step.objects.filter(automation=welcome).update(position=1)
        template = make_template(shop, name="入会礼")
        Step.objects.create(shop=shop, automation=welcome, position=0, kind=StepKind.REWARD, coupon_template=template)
        with transaction.atomic():
            entries = [(pk, "joined", "", {}) for pk in Member.objects.filter(shop=shop).values_list("pk", flat=True)]
            journeys_enter(shop=shop, automation=welcome, entries=entries)
        return welcome, template

    welcome, template = in_scope(shop, set_up)()
    monkeypatch.setenv("PROBE_SMS_DELAY", "0.002")
    queue = f"automations-{uuid.uuid4().hex[:8]}"
    sms_dir, log = tmp_path / "sms", tmp_path / "worker.log"
    broker = Celery(broker=_redis_url(), set_as_current=False)
    journeys = Journey.objects.filter(shop=shop, automation=welcome)

    def ticks():
        broker.send_task("automations.tasks.automations_tick", queue=queue)
        broker.send_task("campaigns.tasks.campaigns_tick", queue=queue)

    first = _worker(queue, sms_dir, log, app="tests.automations.advance_worker")
    try:
        broker.send_task("automations.tasks.automations_advance_shop", args=[shop.pk], queue=queue)
        _wait(lambda: 200 <= journeys.exclude(position=0).count() <= MEMBERS - 200, 60, "the worker to be mid-way")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = journeys.exclude(position=0).count()

    second = _worker(queue, sms_dir, log, app="tests.automations.advance_worker")
    try:
        _wait(
            lambda: journeys.filter(status=JourneyStatus.DONE).count() == MEMBERS and len(_files(sms_dir)) >= MEMBERS,
            120,
            "the second worker to finish the journeys and their messages",
            every=ticks,
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
        broker.close()
        redis.Redis.from_url(_redis_url()).delete(queue, f"_kombu.binding.{queue}", "unacked", "unacked_index")

    coupons = Counter(Coupon.objects.filter(shop=shop, template=template).values_list("member_id", flat=True))
    assert len(coupons) == MEMBERS and set(coupons.values()) == {1}
    sent_to = Counter(json.loads(path.read_text(encoding="utf-8"))["phone"] for path in _files(sms_dir))
    assert set(sent_to) == set(phones), f"{len(set(phones) - set(sent_to))} members got nothing"
    assert set(sent_to.values()) == {1}
    print(f"killed with {at_kill} journeys past their first step")  # noqa: T201
