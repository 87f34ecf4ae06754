"""Push backends (shops.push), on the pattern of the SMS ones: console, locmem, file and http, each taking a batch
with a result per message. The HTTP provider is a real local server (tests/shops/fake_provider.py)."""

import json
from dataclasses import asdict

import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from shops import push
from shops.messaging import FAILED, SENT, DeliveryError, Rejected, messages_send, sign
from shops.push import PushMessage

from .fake_provider import FakeProvider

TOKENS = [f"device-token-{i:04d}-abcdefghijklmnop" for i in range(5)]


def notifications(tokens=TOKENS) -> list[PushMessage]:
    return [
        PushMessage(shop_id=1, platform="ios", token=t, title="会员日", body=f"好礼 {i}", data={"coupon": i})
        for i, t in enumerate(tokens)
    ]


def http(provider: FakeProvider, batch: bool = True, size: int = 2):
    return override_settings(
        PUSH_BACKEND="http",
        PUSH_HTTP_URL=provider.url,
        PUSH_HTTP_SECRET="pssst",
        PUSH_HTTP_BATCH_URL=provider.batch_url if batch else "",
        PUSH_HTTP_BATCH_SIZE=size,
    )


def test_tests_use_the_locmem_backend():
    assert settings.PUSH_BACKEND == "locmem"
    assert isinstance(push.get_backend(), push.LocmemBackend)


def test_a_dotted_path_plugs_in_another_backend():
    with override_settings(PUSH_BACKEND="shops.push.FileBackend"):
        assert isinstance(push.get_backend(), push.FileBackend)


def test_the_console_backend_prints_the_start_of_the_token_and_the_text(capsys):
    batch = notifications(TOKENS[:2])
    with override_settings(PUSH_BACKEND="console"):
        results = push.get_backend().send_many(batch)
    assert [r.status for r in results] == [SENT, SENT]
    assert capsys.readouterr().out.splitlines() == [
        "[push] shop=1 to=ios:device-token…: 会员日 | 好礼 0",
        "[push] shop=1 to=ios:device-token…: 会员日 | 好礼 1",
    ]


def test_the_locmem_backend_keeps_a_batch_and_refuses_a_refused_token():
    batch = notifications(TOKENS[:3])
    push.LocmemBackend.refused.add(TOKENS[2])
    results = push.get_backend().send_many(batch)
    assert [(r.message_id, r.status, r.reason) for r in results] == [
        (batch[0].message_id, SENT, ""),
        (batch[1].message_id, SENT, ""),
        (batch[2].message_id, FAILED, "refused"),
    ]
    assert push.LocmemBackend.outbox == batch[:2]
    assert push.LocmemBackend.batches == [[m.message_id for m in batch]]


def test_send_one_raises_when_the_provider_refuses_it():
    push.LocmemBackend.refused.add(TOKENS[0])
    [refused, accepted] = notifications(TOKENS[:2])
    with pytest.raises(Rejected, match="refused"):
        push.get_backend().send(refused)
    push.get_backend().send(accepted)
    assert push.LocmemBackend.outbox == [accepted]


def test_the_file_backend_writes_one_json_file_per_notification_once(tmp_path):
    batch = notifications(TOKENS[:2])
    with override_settings(PUSH_BACKEND="file", PUSH_FILE_PATH=str(tmp_path / "push")):
        push.get_backend().send_many(batch)
        push.get_backend().send_many(batch)  # sent again: the ids are already there
    files = sorted((tmp_path / "push").glob("*.json"))
    assert [json.loads(f.read_text(encoding="utf-8")) for f in files] == [asdict(m) for m in batch]


def test_the_http_backend_sends_signed_batches_with_a_result_per_notification():
    batch = notifications()
    with FakeProvider(refused=[TOKENS[3]]) as provider, http(provider, size=2):
        results = push.get_backend().send_many(batch)
    assert [r["path"] for r in provider.received] == ["/batch"] * 3
    for request in provider.received:
        assert request["headers"]["X-Huiyuan-Signature"] == "sha256=" + sign(request["body"], "pssst")
    assert provider.bodies()[0]["messages"][0] == asdict(batch[0])
    assert [r.status for r in results] == [SENT, SENT, SENT, FAILED, SENT]
    assert results[3].reason == "unknown number"


def test_the_http_backend_without_a_batch_endpoint_posts_each_notification():
    batch = notifications(TOKENS[:2])
    with FakeProvider() as provider, http(provider, batch=False):
        results = push.get_backend().send_many(batch)
    assert [r["headers"]["X-Huiyuan-Message-Id"] for r in provider.received] == [m.message_id for m in batch]
    assert [r.status for r in results] == [SENT, SENT]


def test_a_temporary_failure_of_the_push_provider_raises_for_the_call():
    with FakeProvider(statuses=[502]) as provider, http(provider), pytest.raises(DeliveryError):
        push.get_backend().send_many(notifications(TOKENS[:1]))


def test_notifications_are_queued_in_chunks_after_the_commit(db, django_capture_on_commit_callbacks):
    batch = notifications()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        assert messages_send(channel="push", messages=batch, chunk=2) == 3
        assert push.LocmemBackend.outbox == []
    assert push.LocmemBackend.outbox == batch
    assert [len(ids) for ids in push.LocmemBackend.batches] == [2, 2, 1]
