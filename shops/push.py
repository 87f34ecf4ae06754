"""App push notifications behind one interface, chosen by settings.PUSH_BACKEND, on the pattern of the SMS backends
(shops.sms; SPEC 10 and 12):

- console: print the notification (local runs);
- locmem: append to `outbox` (tests);
- file: one JSON file per notification in PUSH_FILE_PATH (staging, end-to-end tests);
- http: the generic provider of shops.messaging: POST JSON to PUSH_HTTP_URL (or batches to PUSH_HTTP_BATCH_URL)
  signed with HMAC-SHA256 of the body under PUSH_HTTP_SECRET.

Each backend has `send_many(messages) -> list[SendResult]` (a refused token fails its message; a temporary failure
raises DeliveryError for the call) and `send(message)` (raises DeliveryError or Rejected). Queue notifications with
shops.messaging.messages_send(channel="push", ...): one task per chunk.
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
    HttpProvider,
    LocmemOutbox,
    Rejected,
    SendResult,
    query_message_files,
    write_message_files,
)


@dataclass(frozen=True)
class PushMessage:
    shop_id: int
    platform: str  # "ios", "android", ... as the device registered it
    token: str  # the device's push token
    title: str
    body: str
    data: dict = field(default_factory=dict)  # for the app: what to open (ids, a link), never personal data
    # The provider's deduplication key: retries of one notification carry the same id.
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: str = field(default_factory=lambda: timezone.now().isoformat())


class _SendOne:
    """`send` for backends whose natural operation is the batch."""

    def send(self, message: PushMessage) -> None:
        [result] = self.send_many([message])
        if not result.ok:
            raise Rejected(result.reason)


class ConsoleBackend(_SendOne):
    def send_many(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        for m in messages:
            # The token is a device's address: its start is enough to tell devices apart in a log.
            print(f"[push] shop={m.shop_id} to={m.platform}:{m.token[:12]}…: {m.title} | {m.body}", flush=True)  # noqa: T201
        return [SendResult.sent(m.message_id) for m in messages]

    def query(self, message_ids: Sequence[str]) -> dict[str, str]:
        return dict.fromkeys(message_ids, UNKNOWN)  # printing keeps no record


class LocmemBackend(_SendOne, LocmemOutbox):
    outbox: ClassVar[list[PushMessage]] = []  # shared on purpose: tests read what was sent
    batches: ClassVar[list[list[str]]] = []  # the message ids of each send_many call
    refused: ClassVar[set[str]] = set()  # tokens the fake provider refuses (an app uninstalled)

    def address(self, message: PushMessage) -> str:
        return message.token


class FileBackend(_SendOne):
    def send_many(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        return write_message_files(Path(settings.PUSH_FILE_PATH), messages)

    def query(self, message_ids: Sequence[str]) -> dict[str, str]:
        return query_message_files(Path(settings.PUSH_FILE_PATH), message_ids)


class HttpBackend(_SendOne):
    def __init__(self):
        self.provider = HttpProvider(
            url=settings.PUSH_HTTP_URL,
            secret=settings.PUSH_HTTP_SECRET,
            timeout=settings.PUSH_HTTP_TIMEOUT,
            batch_url=settings.PUSH_HTTP_BATCH_URL,
            batch_size=settings.PUSH_HTTP_BATCH_SIZE,
            status_url=settings.PUSH_HTTP_STATUS_URL,
        )

    def send_many(self, messages: Sequence[PushMessage]) -> list[SendResult]:
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
    name = settings.PUSH_BACKEND
    backend_class = BACKENDS.get(name) or import_string(name)  # a dotted path plugs in another provider
    return backend_class()
