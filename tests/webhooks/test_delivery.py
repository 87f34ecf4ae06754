"""Delivery (SPEC 17): at least once, retried on the schedule kept in the database, only 2xx a success, 410 and 5
days of failures disable the endpoint and tell the owners. A real local receiver answers; the clock is moved."""

import json
import random
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.tasks import events_dispatch
from shops.services import SYSTEM
from webhooks import sending
from webhooks.models import Attempt, Delivery, DeliveryStatus, DisabledReason, Endpoint
from webhooks.sending import SCHEDULE, endpoint_send_due, retry_delay
from webhooks.services import endpoint_create

from .conftest import events_emitted
from .receiver import Reply

pytestmark = pytest.mark.django_db


def _delivery(endpoint) -> Delivery:
    return Delivery.objects.get(endpoint=endpoint)


def test_the_consumer_writes_one_delivery_per_subscribed_endpoint_and_event_in_one_statement(shop, endpoint, receiver):
    # given: a second endpoint wanting only tier changes, and one wanting points
    other, _secret = endpoint_create(shop=shop, actor=SYSTEM, url=receiver.url + "/2", event_types=["points.posted"])
    endpoint_create(shop=shop, actor=SYSTEM, url=receiver.url + "/3", event_types=["tier.changed"])
    # when
    with CaptureQueriesContext(connection) as queries:
        events_emitted(shop, ("member.joined", 1, {}), ("points.posted", 1, {"points": 5}), ("coupon.issued", 1, {}))
    # then
    inserts = [q for q in queries.captured_queries if "INSERT INTO webhooks_delivery" in q["sql"]]
    assert len(inserts) == 1
    rows = sorted(Delivery.objects.values_list("endpoint_id", "event_type", "event_seq", "status", "attempts"))
    assert rows == [
        (endpoint.pk, "member.joined", 1, "pending", 0),
        (endpoint.pk, "points.posted", 2, "pending", 0),
        (other.pk, "points.posted", 2, "pending", 0),
    ]
    # and a chunk read again inserts nothing twice
    from events.consumers import consumer_get

    consumer_get("webhooks.deliveries").handle(shop=shop, events=_domain_events(shop))
    assert Delivery.objects.count() == 3
    events_dispatch(shop.pk)
    assert Delivery.objects.count() == 3


def _domain_events(shop):
    from events.consumers import DomainEvent
    from events.models import Event

    fields = ("id", "shop_id", "type", "member_id", "occurred_at", "seq", "payload")
    return [DomainEvent(*row) for row in Event.objects.filter(shop=shop).order_by("seq").values_list(*fields)]


def test_a_500_then_a_success_keeps_the_webhook_id_and_follows_the_schedule(shop, endpoint, receiver, monkeypatch):
    # given: the receiver fails once
    monkeypatch.setattr(sending, "random", random.Random(1))
    receiver.script = [Reply(500, body=b"boom")]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        events_emitted(shop, ("member.joined", 3, {"source": "api"}))
        # when: the first attempt
        assert endpoint_send_due(shop=shop, endpoint_id=endpoint.pk) == 1
    delivery = _delivery(endpoint)
    first_wait = (delivery.next_attempt_at - start).total_seconds()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1 and delivery.last_status_code == 500
    assert SCHEDULE[0] * 0.9 <= first_wait <= SCHEDULE[0] * 1.1
    assert list(Attempt.objects.values_list("status_code", "response_excerpt")) == [(500, "boom")]
    assert Endpoint.objects.get(pk=endpoint.pk).failing_since == start
    # then: not before its time
    with time_machine.travel(start + timedelta(seconds=4), tick=False):
        assert endpoint_send_due(shop=shop, endpoint_id=endpoint.pk) == 0
    # when: the clock passes the retry time
    with time_machine.travel(delivery.next_attempt_at + timedelta(milliseconds=1), tick=False):
        assert endpoint_send_due(shop=shop, endpoint_id=endpoint.pk) == 1
    # then: delivered, same webhook-id, its own timestamp
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(delivery.event_id)
    assert first.body == second.body
    assert int(first.headers["webhook-timestamp"]) == int(start.timestamp())
    assert int(second.headers["webhook-timestamp"]) == int((start + timedelta(seconds=first_wait)).timestamp())
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 2, 200)
    assert delivery.next_attempt_at is None
    assert Endpoint.objects.get(pk=endpoint.pk).failing_since is None


def test_the_schedule_runs_out_after_nine_retries_and_the_delivery_fails(shop, endpoint, receiver):
    receiver.default = Reply(503)
    events_emitted(shop, ("member.joined", 3, {}))
    moment = timezone.now()
    for _ in range(len(SCHEDULE) + 1):
        with time_machine.travel(moment, tick=False):
            assert endpoint_send_due(shop=shop, endpoint_id=endpoint.pk) == 1
        delivery = _delivery(endpoint)
        if delivery.next_attempt_at:
            moment = delivery.next_attempt_at + timedelta(seconds=1)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 10)
    assert len(receiver.received) == 10
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    # about three days in all (the schedule's sum, within its jitter), so the endpoint is not disabled yet
    total = receiver.received[-1].at - receiver.received[0].at
    assert 0.9 * sum(SCHEDULE) <= total <= 1.1 * sum(SCHEDULE)
    assert Endpoint.objects.get(pk=endpoint.pk).enabled


def test_retry_delays_follow_the_schedule_with_jitter_and_honour_retry_after():
    rng = random.Random(7)
    for attempts, base in enumerate(SCHEDULE, start=1):
        assert 0.9 * base <= retry_delay(attempts=attempts, rng=rng) <= 1.1 * base
    assert retry_delay(attempts=len(SCHEDULE) + 1) is None
    assert retry_delay(attempts=1, retry_after=120, rng=rng) == 120
    assert retry_delay(attempts=1, retry_after=10**9, rng=rng) == 24 * 3600


def test_a_retry_after_header_sets_the_next_attempt(shop, endpoint, receiver):
    receiver.script = [Reply(429, headers={"Retry-After": "600"})]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        events_emitted(shop, ("member.joined", 3, {}))
        endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    assert _delivery(endpoint).next_attempt_at == start + timedelta(seconds=600)


def test_a_410_disables_the_endpoint_at_once_and_tells_the_owners(
    shop, owner, endpoint, receiver, django_capture_on_commit_callbacks
):
    # given: two events waiting
    receiver.script = [Reply(410)]
    events_emitted(shop, ("member.joined", 3, {}), ("member.joined", 4, {}))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    # then: one request, the endpoint off, nothing left pending, the owner told
    assert len(receiver.received) == 1
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, DisabledReason.GONE)
    assert sorted(Delivery.objects.values_list("event_seq", "status", "last_status_code")) == [
        (1, "failed", 410),
        (2, "failed", None),
    ]
    assert [m.to for m in mail.outbox] == [[owner.email]]
    assert endpoint.url in mail.outbox[0].body
    # and nothing more is sent
    events_emitted(shop, ("member.joined", 5, {}))
    assert endpoint_send_due(shop=shop, endpoint_id=endpoint.pk) == 0
    assert Delivery.objects.count() == 2


def test_a_redirect_is_a_failure_and_is_not_followed(shop, endpoint, receiver):
    receiver.script = [Reply(302, headers={"Location": receiver.url + "/elsewhere"})]
    events_emitted(shop, ("member.joined", 3, {}))
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    assert [r.path for r in receiver.received] == ["/hooks"]
    delivery = _delivery(endpoint)
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.PENDING, 302)
    assert delivery.next_attempt_at is not None


def test_an_endpoint_failing_for_five_days_is_disabled_and_the_owners_told(
    shop, owner, endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.default = Reply(500)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        events_emitted(shop, ("member.joined", 3, {}))
        endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    with time_machine.travel(start + timedelta(days=4, hours=23), tick=False):
        events_emitted(shop, ("member.joined", 4, {}))
        Delivery.objects.filter(event_seq=1).update(next_attempt_at=timezone.now() + timedelta(hours=1))
        endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
        assert Endpoint.objects.get(pk=endpoint.pk).enabled and mail.outbox == []
    with time_machine.travel(start + timedelta(days=5, seconds=1), tick=False):
        Delivery.objects.update(next_attempt_at=timezone.now())
        with django_capture_on_commit_callbacks(execute=True):
            endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, DisabledReason.FAILING)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [owner.email]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}


def test_the_response_body_is_read_up_to_the_limit(shop, endpoint, receiver):
    receiver.script = [Reply(200, body=b"x" * 100_000)]
    events_emitted(shop, ("member.joined", 3, {}))
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    (excerpt,) = Attempt.objects.values_list("response_excerpt", flat=True)
    assert excerpt == "x" * 1000
    assert _delivery(endpoint).status == DeliveryStatus.SUCCEEDED


def test_a_slow_endpoint_times_out_as_a_failure(shop, endpoint, receiver, monkeypatch):
    monkeypatch.setattr("webhooks.net.TIMEOUT", 0.5)
    receiver.script = [Reply(200, delay=2)]
    events_emitted(shop, ("member.joined", 3, {}))
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    (attempt,) = Attempt.objects.all()
    assert attempt.status_code is None and "Timeout" in attempt.error
    assert 400 <= attempt.duration_ms < 2000
    assert _delivery(endpoint).status == DeliveryStatus.PENDING


def test_the_body_is_thin_json_with_the_sequence(shop, endpoint, receiver):
    events_emitted(shop, ("points.posted", 9, {"kind": "earn", "points": 12, "key": "o-1"}))
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    body = json.loads(receiver.received[0].body)
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "points.posted"
    assert body["data"] == {
        "shop": shop.slug,
        "event_id": receiver.received[0].headers["webhook-id"],
        "sequence": 1,
        "member_id": 9,
        "kind": "earn",
        "points": 12,
        "key": "o-1",
    }


def test_an_endpoint_that_does_not_answer_is_paused_until_the_retry(shop, endpoint, receiver, monkeypatch):
    # given: three events, and a receiver that hangs past the timeout on the first request
    monkeypatch.setattr("webhooks.net.TIMEOUT", 0.5)
    receiver.script = [Reply(200, delay=2)]
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        events_emitted(shop, ("member.joined", 1, {}), ("member.joined", 2, {}), ("member.joined", 3, {}))
        # when
        assert endpoint_send_due(shop=shop, endpoint_id=endpoint.pk) == 1
    # then: one request, the endpoint paused until that delivery's retry, the others waiting with it, unattempted
    endpoint.refresh_from_db()
    rows = list(Delivery.objects.order_by("event_seq").values_list("attempts", "next_attempt_at"))
    assert [attempts for attempts, _at in rows] == [1, 0, 0]
    assert {at for _attempts, at in rows} == {endpoint.paused_until}
    assert 4 <= (endpoint.paused_until - start).total_seconds() <= 8
    assert len(receiver.received) == 1
    # a new event does not get through either while paused
    events_emitted(shop, ("member.joined", 4, {}))
    assert endpoint_send_due(shop=shop, endpoint_id=endpoint.pk) == 0
    # when the retry comes and the receiver answers, everything goes, oldest first, and the pause is lifted
    with time_machine.travel(endpoint.paused_until + timedelta(seconds=1), tick=False):
        assert endpoint_send_due(shop=shop, endpoint_id=endpoint.pk) == 4
    assert [json.loads(r.body)["data"]["sequence"] for r in receiver.received] == [1, 1, 2, 3, 4]
    endpoint.refresh_from_db()
    assert endpoint.paused_until is None and endpoint.failing_since is None
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_manual_retry_lifts_the_pause_and_the_tick_skips_a_paused_endpoint(shop, endpoint, receiver):
    from webhooks.selectors import due_endpoints_all_shops
    from webhooks.services import delivery_retry

    # given: a paused endpoint whose delivery is due
    events_emitted(shop, ("member.joined", 1, {}))
    Endpoint.objects.filter(pk=endpoint.pk).update(paused_until=timezone.now() + timedelta(minutes=5))
    assert due_endpoints_all_shops(now=timezone.now()) == []
    assert endpoint_send_due(shop=shop, endpoint_id=endpoint.pk) == 0
    # when: the merchant retries it
    endpoint.refresh_from_db()
    delivery_retry(shop=shop, actor=SYSTEM, endpoint=endpoint, delivery=Delivery.objects.get())
    # then
    assert due_endpoints_all_shops(now=timezone.now()) == [(shop.pk, endpoint.pk)]
    assert endpoint_send_due(shop=shop, endpoint_id=endpoint.pk) == 1
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED
