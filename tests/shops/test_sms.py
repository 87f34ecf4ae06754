"""SMS backends. The HTTP provider is a real local server (a fake provider), not a patched function."""

import json
from dataclasses import asdict

import pytest
from django.db import transaction
from django.test import override_settings

from shops.services import sms_send
from shops.sms import LocmemBackend, SmsMessage, sign
from shops.tasks import sms_deliver

from .fake_provider import FakeProvider

pytestmark = pytest.mark.django_db(transaction=True)


def test_locmem_keeps_the_message_after_commit(shop):
    with transaction.atomic():
        sms_send(shop=shop, phone="+8613800138000", text="验证码 123456")
        assert LocmemBackend.outbox == []  # nothing leaves before the commit
    assert [(m.shop_id, m.phone, m.text) for m in LocmemBackend.outbox] == [
        (shop.pk, "+8613800138000", "验证码 123456")
    ]


def test_a_rolled_back_transaction_sends_nothing(shop):
    with pytest.raises(RuntimeError), transaction.atomic():
        sms_send(shop=shop, phone="+8613800138000", text="x")
        raise RuntimeError
    assert LocmemBackend.outbox == []


def test_the_file_backend_writes_one_json_file_per_message(shop, tmp_path):
    with override_settings(SMS_BACKEND="file", SMS_FILE_PATH=str(tmp_path)):
        sms_send(shop=shop, phone="+8613800138000", text="你好")
        sms_send(shop=shop, phone="+8613900139000", text="再见")
    files = sorted(tmp_path.glob("*.json"))
    messages = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    assert [(m["phone"], m["text"], m["shop_id"]) for m in messages] == [
        ("+8613800138000", "你好", shop.pk),
        ("+8613900139000", "再见", shop.pk),
    ]


def test_the_console_backend_prints(shop, capsys):
    with override_settings(SMS_BACKEND="console"):
        sms_send(shop=shop, phone="+8613800138000", text="hello")
    assert f"[sms] shop={shop.pk} to=+8613800138000: hello" in capsys.readouterr().out


def test_the_http_backend_signs_the_body(shop):
    with (
        FakeProvider() as provider,
        override_settings(SMS_BACKEND="http", SMS_HTTP_URL=provider.url, SMS_HTTP_SECRET="s3cret"),
    ):
        message = sms_send(shop=shop, phone="+8613800138000", text="码 42")
    [request] = provider.received
    assert request["headers"]["X-Huiyuan-Signature"] == "sha256=" + sign(request["body"], "s3cret")
    assert request["headers"]["X-Huiyuan-Message-Id"] == message.message_id
    assert json.loads(request["body"])["text"] == "码 42"


def test_the_http_backend_retries_temporary_failures_with_the_same_message_id(shop, worker_like_eager_retries):
    message = SmsMessage(shop_id=shop.pk, phone="+8613800138000", text="x")
    with (
        FakeProvider(statuses=[503, 429]) as provider,
        override_settings(SMS_BACKEND="http", SMS_HTTP_URL=provider.url, SMS_HTTP_SECRET="s"),
    ):
        # apply() runs the task as a worker would, retries included (backoff delays are skipped when eager)
        result = sms_deliver.apply(args=[asdict(message)])
    assert result.successful()
    assert len(provider.received) == 3
    assert len({r["headers"]["X-Huiyuan-Message-Id"] for r in provider.received}) == 1


def test_the_http_backend_does_not_retry_a_refusal(shop):
    with (
        FakeProvider(statuses=[400]) as provider,
        override_settings(SMS_BACKEND="http", SMS_HTTP_URL=provider.url, SMS_HTTP_SECRET="s"),
    ):
        sms_send(shop=shop, phone="+86138", text="x")
    assert len(provider.received) == 1
