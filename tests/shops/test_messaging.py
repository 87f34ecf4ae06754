"""Batched sending (shops.messaging) behind the SMS backends: a result per message, one provider request per batch,
one Celery task per chunk, after the commit, and a chunk sent again that delivers nothing twice. The HTTP provider
is a real local server (tests/shops/fake_provider.py)."""

import json
from dataclasses import asdict

import pytest
from celery import shared_task
from django.db import transaction
from django.test import override_settings

from shops import sms
from shops.messaging import FAILED, SENT, SendResult, chunked, messages_send, messages_send_now, sign
from shops.sms import SmsDeliveryError, SmsMessage
from shops.tasks import messages_send_chunk

from .fake_provider import FakeProvider

PHONES = [f"+86138001380{i:02d}" for i in range(7)]
RECORDED: list[list[dict]] = []


@shared_task(name="tests.shops.record_results")
def record_results(results: list[dict]) -> None:
    RECORDED.append(results)


@pytest.fixture(autouse=True)
def _no_recorded_results():
    RECORDED.clear()


def messages(phones=PHONES, shop_id=1) -> list[SmsMessage]:
    return [SmsMessage(shop_id=shop_id, phone=phone, text=f"hello {phone[-2:]}") for phone in phones]


def statuses(results: list[SendResult]) -> list[tuple[str, str]]:
    return [(r.status, r.reason) for r in results]


def http(provider: FakeProvider, batch: bool = True, size: int = 3):
    return override_settings(
        SMS_BACKEND="http",
        SMS_HTTP_URL=provider.url,
        SMS_HTTP_SECRET="s3cret",
        SMS_HTTP_BATCH_URL=provider.batch_url if batch else "",
        SMS_HTTP_BATCH_SIZE=size,
    )


def test_chunked_splits_in_order_with_a_shorter_last_chunk():
    assert chunked([1, 2, 3, 4, 5, 6, 7], 3) == [[1, 2, 3], [4, 5, 6], [7]]
    assert chunked([], 3) == []
    with pytest.raises(ValueError):
        chunked([1], 0)


def test_the_console_backend_prints_each_message_of_a_batch(capsys):
    batch = messages(PHONES[:2])
    results = sms.ConsoleBackend().send_many(batch)
    assert results == [SendResult.sent(m.message_id) for m in batch]
    assert capsys.readouterr().out.splitlines() == [
        f"[sms] shop=1 to={PHONES[0]}: hello 00",
        f"[sms] shop=1 to={PHONES[1]}: hello 01",
    ]


def test_the_locmem_backend_keeps_a_batch_refuses_a_refused_number_and_drops_an_id_it_already_has():
    batch = messages(PHONES[:3])
    sms.LocmemBackend.refused.add(PHONES[1])

    results = sms.LocmemBackend().send_many(batch)
    again = sms.LocmemBackend().send_many([batch[0]])

    assert statuses(results) == [(SENT, ""), (FAILED, "refused"), (SENT, "")]
    assert statuses(again) == [(SENT, "")]
    assert sms.LocmemBackend.outbox == [batch[0], batch[2]]
    assert sms.LocmemBackend.batches == [[m.message_id for m in batch], [batch[0].message_id]]


def test_the_file_backend_writes_one_file_per_message_and_a_batch_sent_again_writes_nothing(tmp_path):
    batch = messages(PHONES[:3])
    with override_settings(SMS_BACKEND="file", SMS_FILE_PATH=str(tmp_path)):
        first = sms.get_backend().send_many(batch)
        again = sms.get_backend().send_many(batch)
    files = sorted(tmp_path.glob("*.json"))
    assert [json.loads(f.read_text(encoding="utf-8"))["phone"] for f in files] == PHONES[:3]
    assert [f.stem.split("-", 1)[1] for f in files] == [m.message_id for m in batch]
    assert statuses(first) == statuses(again) == [(SENT, "")] * 3


def test_the_http_backend_sends_one_signed_request_per_batch_with_a_result_per_message():
    batch = messages(PHONES)
    with FakeProvider(refused=[PHONES[4]]) as provider, http(provider, size=3):
        results = sms.get_backend().send_many(batch)

    assert [r["path"] for r in provider.received] == ["/batch"] * 3  # 7 messages, 3 a request
    bodies = provider.bodies()
    assert [[m["message_id"] for m in body["messages"]] for body in bodies] == [
        [m.message_id for m in batch[i : i + 3]] for i in (0, 3, 6)
    ]
    assert bodies[0]["messages"][0] == {
        "shop_id": 1,
        "phone": PHONES[0],
        "text": "hello 00",
        "message_id": batch[0].message_id,
        "created_at": batch[0].created_at,
    }
    for request in provider.received:
        assert request["headers"]["X-Huiyuan-Signature"] == "sha256=" + sign(request["body"], "s3cret")
    assert [r.message_id for r in results] == [m.message_id for m in batch]
    assert statuses(results) == [(SENT, "")] * 4 + [(FAILED, "unknown number")] + [(SENT, "")] * 2


def test_a_batch_sent_again_carries_the_same_ids_and_batch_id_and_is_delivered_once():
    batch = messages(PHONES[:2])
    with FakeProvider() as provider, http(provider):
        sms.get_backend().send_many(batch)
        sms.get_backend().send_many(batch)
    first, second = provider.received
    assert first["body"] == second["body"]
    assert first["headers"]["X-Huiyuan-Batch-Id"] == second["headers"]["X-Huiyuan-Batch-Id"]
    assert list(provider.delivered) == [m.message_id for m in batch]


def test_a_batch_answered_without_results_is_sent_and_a_refused_batch_fails_each_message():
    batch = messages(PHONES[:2])
    with FakeProvider(results=False) as provider, http(provider):
        assert statuses(sms.get_backend().send_many(batch)) == [(SENT, "")] * 2
    with FakeProvider(statuses=[403]) as provider, http(provider):
        results = sms.get_backend().send_many(batch)
    assert [r.status for r in results] == [FAILED, FAILED]
    assert results[0].reason.startswith("provider refused the batch: 403")


@pytest.mark.parametrize("status", [503, 429])
def test_a_temporary_failure_of_a_batch_raises_for_the_whole_call(status):
    with FakeProvider(statuses=[status]) as provider, http(provider), pytest.raises(SmsDeliveryError):
        sms.get_backend().send_many(messages(PHONES[:2]))


def test_without_a_batch_endpoint_the_http_backend_posts_each_message_inside_the_one_call():
    batch = messages(PHONES[:3])
    with FakeProvider(refused=[PHONES[1]]) as provider, http(provider, batch=False):
        results = sms.get_backend().send_many(batch)
    assert [r["path"] for r in provider.received] == ["/send"] * 3
    assert [r["headers"]["X-Huiyuan-Message-Id"] for r in provider.received] == [m.message_id for m in batch]
    assert [r.status for r in results] == [SENT, FAILED, SENT]
    assert results[1].reason == "provider refused the message: 400 unknown number"


def test_messages_send_queues_one_task_per_chunk_after_the_commit(db, django_capture_on_commit_callbacks):
    batch = messages(PHONES)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        chunks = messages_send(channel="sms", messages=batch, chunk=3, on_results=record_results.s())
        assert sms.LocmemBackend.outbox == []  # nothing leaves before the commit
    assert (chunks, len(callbacks)) == (3, 1)
    assert sms.LocmemBackend.batches == [[m.message_id for m in batch[i : i + 3]] for i in (0, 3, 6)]
    assert sms.LocmemBackend.outbox == batch
    # each chunk's results went to the linked task
    assert [[r["message_id"] for r in results] for results in RECORDED] == sms.LocmemBackend.batches
    assert RECORDED[0][0] == {"message_id": batch[0].message_id, "status": "sent", "reason": ""}


def test_a_rolled_back_transaction_queues_nothing(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        messages_send(channel="sms", messages=messages(), chunk=3)
        raise RuntimeError
    assert sms.LocmemBackend.batches == []


def test_an_unknown_channel_is_refused():
    with pytest.raises(ValueError, match="wechat"):
        messages_send(channel="wechat", messages=messages())


def test_a_chunk_run_twice_delivers_each_message_once():
    payload = [asdict(m) for m in messages(PHONES[:3])]
    first = messages_send_chunk(channel="sms", messages=payload)
    again = messages_send_chunk(channel="sms", messages=payload)  # a redelivered task (acks_late)
    assert first == again
    assert [m.phone for m in sms.LocmemBackend.outbox] == PHONES[:3]
    assert len(sms.LocmemBackend.batches) == 2


def test_a_chunk_that_meets_a_temporary_failure_is_sent_again_with_the_same_ids(worker_like_eager_retries):
    batch = messages(PHONES[:4])
    payload = [asdict(m) for m in batch]
    with FakeProvider(statuses=[200, 503]) as provider, http(provider, size=2):
        # apply() runs the task as a worker would, retries included: the second request fails, the chunk goes again
        result = messages_send_chunk.apply(args=["sms", payload])
    assert result.successful()
    assert [r["status"] for r in result.result] == [SENT] * 4
    ids = [[m["message_id"] for m in body["messages"]] for body in provider.bodies()]
    first, second = [m.message_id for m in batch[:2]], [m.message_id for m in batch[2:]]
    assert ids == [first, second, first, second]  # the whole chunk again, the same ids
    assert list(provider.delivered) == first + second  # the provider dropped the copies


def test_messages_send_now_hands_a_chunk_to_the_configured_backend():
    payload = [asdict(m) for m in messages(PHONES[:1])]
    assert statuses(messages_send_now(channel="sms", messages=payload)) == [(SENT, "")]
    assert sms.LocmemBackend.outbox[0].phone == PHONES[0]
