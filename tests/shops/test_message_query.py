"""What the SMS and push backends hold (shops.messaging): `query` settles a send whose outcome the caller does not
know, and the file backends keep one file per message id even when two processes write the same ids at once."""

import json
import multiprocessing
from pathlib import Path

import pytest
from django.test import override_settings

from shops import push, sms
from shops.messaging import SENT, UNKNOWN, sign, write_message_files
from shops.push import PushMessage
from shops.sms import SmsDeliveryError, SmsMessage

from .fake_provider import FakeProvider


def sms_messages(count: int) -> list[SmsMessage]:
    return [SmsMessage(shop_id=1, phone=f"+8613800138{i:03d}", text="hi") for i in range(count)]


def push_messages(count: int) -> list[PushMessage]:
    return [PushMessage(shop_id=1, platform="ios", token=f"tok{i}", title="t", body="b") for i in range(count)]


@pytest.fixture(autouse=True)
def _empty_outboxes():
    sms.LocmemBackend.reset()
    push.LocmemBackend.reset()


def test_locmem_answers_sent_for_what_it_holds_and_unknown_for_a_refused_or_never_sent_message():
    batch = sms_messages(3)
    sms.LocmemBackend.refused.add(batch[1].phone)
    sms.get_backend().send_many(batch[:2])

    assert sms.get_backend().query([m.message_id for m in batch]) == {
        batch[0].message_id: SENT,
        batch[1].message_id: UNKNOWN,
        batch[2].message_id: UNKNOWN,
    }


def test_push_locmem_and_console_query():
    batch = push_messages(2)
    push.get_backend().send_many(batch[:1])

    assert push.get_backend().query([m.message_id for m in batch]) == {
        batch[0].message_id: SENT,
        batch[1].message_id: UNKNOWN,
    }
    with override_settings(PUSH_BACKEND="console"):
        assert push.get_backend().query([batch[0].message_id]) == {batch[0].message_id: UNKNOWN}
    with override_settings(SMS_BACKEND="console"):
        assert sms.get_backend().query(["a"]) == {"a": UNKNOWN}


@pytest.mark.parametrize(("module", "make", "setting"), [(sms, sms_messages, "SMS"), (push, push_messages, "PUSH")])
def test_the_file_backends_answer_from_the_ids_they_hold(tmp_path, module, make, setting):
    batch = make(3)
    with override_settings(**{f"{setting}_BACKEND": "file", f"{setting}_FILE_PATH": str(tmp_path)}):
        module.get_backend().send_many(batch[:2])
        answer = module.get_backend().query([m.message_id for m in batch])

    assert answer == {batch[0].message_id: SENT, batch[1].message_id: SENT, batch[2].message_id: UNKNOWN}
    assert sorted(p.name for p in (tmp_path / ".ids").iterdir()) == sorted(m.message_id for m in batch[:2])


def test_a_single_sms_written_to_file_is_known_to_query(tmp_path):
    [message] = sms_messages(1)
    with override_settings(SMS_BACKEND="file", SMS_FILE_PATH=str(tmp_path)):
        sms.get_backend().send(message)
        assert sms.get_backend().query([message.message_id]) == {message.message_id: SENT}


def test_a_message_id_that_would_leave_the_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot name a file"):
        write_message_files(tmp_path, [SmsMessage(shop_id=1, phone="+8613800138000", text="x", message_id="../x")])
    assert list(tmp_path.rglob("*")) == []


def _write_all(directory: str, payload: list[dict], start) -> None:
    start.wait()
    write_message_files(Path(directory), [SmsMessage(**m) for m in payload])


def test_two_processes_writing_the_same_ids_at_once_leave_one_file_per_id(tmp_path):
    # given: the same 300 messages handed to two processes released together
    batch = sms_messages(300)
    payload = [m.__dict__ for m in batch]
    context = multiprocessing.get_context("fork")
    start = context.Barrier(2)
    workers = [context.Process(target=_write_all, args=(str(tmp_path), payload, start)) for _ in range(2)]

    # when
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    # then
    assert [w.exitcode for w in workers] == [0, 0]
    files = sorted(tmp_path.glob("*.json"))
    assert sorted(f.stem.split("-", 1)[1] for f in files) == sorted(m.message_id for m in batch)
    assert {json.loads(f.read_text(encoding="utf-8"))["phone"] for f in files} == {m.phone for m in batch}


def http_with_status(provider: FakeProvider, status_url: str):
    return override_settings(
        SMS_BACKEND="http",
        SMS_HTTP_URL=provider.url,
        SMS_HTTP_SECRET="s3cret",
        SMS_HTTP_BATCH_URL=provider.batch_url,
        SMS_HTTP_BATCH_SIZE=2,
        SMS_HTTP_STATUS_URL=status_url,
    )


def test_the_http_backend_asks_the_status_endpoint_signed_in_batches():
    batch = sms_messages(3)
    with FakeProvider() as provider, http_with_status(provider, provider.status_url):
        sms.get_backend().send_many(batch[:2])
        provider.received.clear()
        answer = sms.get_backend().query([m.message_id for m in batch])

    assert answer == {batch[0].message_id: SENT, batch[1].message_id: SENT, batch[2].message_id: UNKNOWN}
    assert [r["path"] for r in provider.received] == ["/status"] * 2  # 3 ids, 2 a request
    assert [json.loads(r["body"]) for r in provider.received] == [
        {"message_ids": [batch[0].message_id, batch[1].message_id]},
        {"message_ids": [batch[2].message_id]},
    ]
    for request in provider.received:
        assert request["headers"]["X-Huiyuan-Signature"] == "sha256=" + sign(request["body"], "s3cret")


def test_without_a_status_endpoint_the_http_backend_answers_unknown_without_asking():
    with FakeProvider() as provider, http_with_status(provider, ""):
        assert sms.get_backend().query(["a", "b"]) == {"a": UNKNOWN, "b": UNKNOWN}
    assert provider.received == []


def test_a_status_endpoint_that_cannot_answer_raises_a_temporary_error():
    with (
        FakeProvider(statuses=[503]) as provider,
        http_with_status(provider, provider.status_url),
        pytest.raises(SmsDeliveryError),
    ):
        sms.get_backend().query(["a"])
