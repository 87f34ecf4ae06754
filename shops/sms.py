"""SMS delivery behind one interface, chosen by settings.SMS_BACKEND (SPEC section 10):

- console: print the message (local runs);
- locmem: append to `outbox` (tests);
- file: one JSON file per message in SMS_FILE_PATH (staging, end-to-end tests);
- http: POST JSON to SMS_HTTP_URL signed with HMAC-SHA256 of the body under SMS_HTTP_SECRET; a failure raises
  SmsDeliveryError so the sending task retries with backoff. Batches go to SMS_HTTP_BATCH_URL when the provider
  has one (shops.messaging describes the protocol).

Each backend sends one message (`send`: one-time codes, through `sms_send` in shops.services, which queues the
`sms_deliver` task after the transaction commits) or a batch (`send_many`: campaigns, through
shops.messaging.messages_send, one task per chunk).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from .messaging import (
    UNKNOWN,
    DeliveryError,
    HttpProvider,
    LocmemOutbox,
    Rejected,
    SendResult,
    query_message_files,
    sign,
    write_message_file,
    write_message_files,
)

__all__ = ["SmsDeliveryError", "SmsMessage", "SmsRejected", "get_backend", "sign"]


class SmsDeliveryError(DeliveryError):
    """A temporary failure: the caller may retry."""


class SmsRejected(Rejected):
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

    def send_many(self, messages: Sequence[SmsMessage]) -> list[SendResult]:
        for message in messages:
            self.send(message)
        return [SendResult.sent(m.message_id) for m in messages]

    def query(self, message_ids: Sequence[str]) -> dict[str, str]:
        return dict.fromkeys(message_ids, UNKNOWN)  # printing keeps no record


class LocmemBackend(LocmemOutbox):
    outbox: ClassVar[list[SmsMessage]] = []  # shared on purpose: tests read what was sent
    batches: ClassVar[list[list[str]]] = []  # the message ids of each send_many call
    refused: ClassVar[set[str]] = set()  # phone numbers the fake provider refuses

    def address(self, message: SmsMessage) -> str:
        return message.phone

    def send(self, message: SmsMessage) -> None:
        LocmemBackend.outbox.append(message)


class FileBackend:
    def send(self, message: SmsMessage) -> None:
        write_message_file(Path(settings.SMS_FILE_PATH), message)

    def send_many(self, messages: Sequence[SmsMessage]) -> list[SendResult]:
        return write_message_files(Path(settings.SMS_FILE_PATH), messages)

    def query(self, message_ids: Sequence[str]) -> dict[str, str]:
        return query_message_files(Path(settings.SMS_FILE_PATH), message_ids)


class HttpBackend:
    def __init__(self):
        self.provider = HttpProvider(
            url=settings.SMS_HTTP_URL,
            secret=settings.SMS_HTTP_SECRET,
            timeout=settings.SMS_HTTP_TIMEOUT,
            batch_url=settings.SMS_HTTP_BATCH_URL,
            batch_size=settings.SMS_HTTP_BATCH_SIZE,
            status_url=settings.SMS_HTTP_STATUS_URL,
            temporary=SmsDeliveryError,
            refusal=SmsRejected,
        )

    def send(self, message: SmsMessage) -> None:
        self.provider.send(message)

    def send_many(self, messages: Sequence[SmsMessage]) -> list[SendResult]:
        return self.provider.send_many(messages)

    def query(self, message_ids: Sequence[str]) -> dict[str, str]:
        return self.provider.query(message_ids)


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
