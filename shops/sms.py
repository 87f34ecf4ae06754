"""SMS delivery behind one interface, chosen by settings.SMS_BACKEND (SPEC section 10):

- console: print the message (local runs);
- locmem: append to `outbox` (tests);
- file: one JSON file per message in SMS_FILE_PATH (staging, end-to-end tests);
- http: POST JSON to SMS_HTTP_URL signed with HMAC-SHA256 of the body under SMS_HTTP_SECRET; a failure raises
  SmsDeliveryError so the sending task retries with backoff.

Callers use `sms_send` (services), which queues the `sms_deliver` task after the transaction commits.
"""

import hashlib
import hmac
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


class SmsDeliveryError(Exception):
    """A temporary failure: the caller may retry."""


class SmsRejected(Exception):
    """The provider refused the message for good (bad number, bad signature...): retrying will not help."""


@dataclass(frozen=True)
class SmsMessage:
    shop_id: int
    phone: str
    text: str
    # The provider's deduplication key: retries of one message carry the same id.
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: str = field(default_factory=lambda: timezone.now().isoformat())


class ConsoleBackend:
    def send(self, message: SmsMessage) -> None:
        print(f"[sms] shop={message.shop_id} to={message.phone}: {message.text}", flush=True)  # noqa: T201


class LocmemBackend:
    outbox: list[SmsMessage] = []  # shared on purpose: tests read what was sent

    def send(self, message: SmsMessage) -> None:
        LocmemBackend.outbox.append(message)


class FileBackend:
    def send(self, message: SmsMessage) -> None:
        directory = Path(settings.SMS_FILE_PATH)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{time.time_ns()}-{message.message_id}.json"
        # Write then rename, so a reader never sees half a file.
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(message), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class HttpBackend:
    def send(self, message: SmsMessage) -> None:
        body = json.dumps(asdict(message), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Huiyuan-Signature": "sha256=" + sign(body, settings.SMS_HTTP_SECRET),
            "X-Huiyuan-Message-Id": message.message_id,
        }
        try:
            response = requests.post(
                settings.SMS_HTTP_URL, data=body, headers=headers, timeout=settings.SMS_HTTP_TIMEOUT
            )
        except requests.RequestException as exc:
            raise SmsDeliveryError(f"provider unreachable: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise SmsDeliveryError(f"provider answered {response.status_code}")
        if response.status_code >= 400:
            raise SmsRejected(f"provider refused the message: {response.status_code} {response.text[:200]}")


BACKENDS = {
    "console": ConsoleBackend,
    "locmem": LocmemBackend,
    "file": FileBackend,
    "http": HttpBackend,
}


def get_backend():
    name = settings.SMS_BACKEND
    backend_class = BACKENDS.get(name) or import_string(name)  # a dotted path plugs in another provider
    return backend_class()
