"""Messages to shoppers' phones and devices in batches: what the SMS backends (shops.sms) and the push backends
(shops.push) share, and the one way to queue many messages (SPEC 10 and 12, CONVENTIONS 5b).

Every backend has `send_many(messages) -> list[SendResult]`: one result per message, in order, `sent` or `failed`
with a reason (a refused number or token: final, do not send again). A temporary failure of the provider
(unreachable, 5xx, 429) raises DeliveryError for the whole call instead: the caller sends the same messages again
later, and since each message carries its own `message_id` as the provider's deduplication key, a message the
provider already took is not delivered twice. The locmem and file backends honour the key as a provider does: a
message id they already hold is answered `sent` and not kept again (the console backend prints what it is given).

The `http` protocol (both channels, each with its own settings):
- one message: POST the message as a JSON object to `<CHANNEL>_HTTP_URL`, with `X-Huiyuan-Signature:
  sha256=<HMAC-SHA256 of the body under <CHANNEL>_HTTP_SECRET>` and `X-Huiyuan-Message-Id`; 2xx is sent, 5xx and
  429 are temporary, any other answer a refusal;
- a batch, when the provider has a batch endpoint (`<CHANNEL>_HTTP_BATCH_URL`): POST `{"messages": [...]}` (up to
  `<CHANNEL>_HTTP_BATCH_SIZE` a request), signed the same way, with `X-Huiyuan-Batch-Id` (the same for the same
  messages, so a retried request can be recognised). A 2xx answer may name each message's outcome: `{"results":
  [{"message_id", "status": "sent" | "failed", "error"?}]}`; without `results` the whole batch is taken as sent, and
  a message the results leave out counts as failed. A refusal of the request (4xx but 429) fails every message of
  it; 5xx and 429 are temporary;
- without a batch endpoint, `send_many` posts the messages one by one within the one call;
- a status query, when the provider has one (`<CHANNEL>_HTTP_STATUS_URL`): POST `{"message_ids": [...]}` (up to
  `<CHANNEL>_HTTP_BATCH_SIZE` a request), signed the same way; the 2xx answer is `{"results": [{"message_id",
  "status": "sent" | "failed" | "unknown"}]}` ("delivered" is read as sent). An id the answer leaves out, or any
  other status, is "unknown"; without a status URL every id is "unknown". 5xx and 429 raise DeliveryError.

Every backend also has `query(message_ids) -> {message_id: "sent" | "unknown"}` (http may also say "failed": the
provider holds the message and refused it). A sender that does not know whether a call went through (a timeout, a
killed worker) asks before sending again: "sent" settles the message, "unknown" means it may be sent again, and
since the id is the deduplication key a message that did arrive after all is still not delivered twice. locmem and
file answer from what they hold; console knows nothing and answers "unknown".

Queue messages with `messages_send` (after the transaction commits): one Celery task per chunk of messages
(shops.tasks.messages_send_chunk), never one task per message.
"""

import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import requests
from django.db import transaction

SENT, FAILED, UNKNOWN = "sent", "failed", "unknown"
CHUNK = 500  # messages per task: a provider call takes 100-200, a task a few of them
T = TypeVar("T")


class DeliveryError(Exception):
    """A temporary failure: send the same messages again later."""


class Rejected(Exception):
    """The provider refused for good (a bad number or token, a bad signature...): retrying will not help."""


@dataclass(frozen=True)
class SendResult:
    message_id: str
    status: str  # SENT or FAILED
    reason: str = ""

    @classmethod
    def sent(cls, message_id: str) -> "SendResult":
        return cls(message_id, SENT)

    @classmethod
    def failed(cls, message_id: str, reason: str) -> "SendResult":
        return cls(message_id, FAILED, reason[:500])

    @property
    def ok(self) -> bool:
        return self.status == SENT


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    """`items` in consecutive lists of at most `size` (the last one shorter)."""
    if size < 1:
        raise ValueError("a chunk holds at least one item")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class LocmemOutbox:
    """A provider in memory for tests. Subclasses give their own `outbox`, `batches` and `refused` (class-level, so
    a test reads what any instance took) and `address(message)`. `batches` records the message ids of each
    send_many call; an address in `refused` is refused."""

    outbox: ClassVar[list]
    batches: ClassVar[list[list[str]]]
    refused: ClassVar[set[str]]

    def address(self, message) -> str:
        raise NotImplementedError

    def send_many(self, messages: Sequence) -> list[SendResult]:
        cls = type(self)
        cls.batches.append([m.message_id for m in messages])
        held = {m.message_id for m in cls.outbox}
        results = []
        for message in messages:
            if self.address(message) in cls.refused:
                results.append(SendResult.failed(message.message_id, "refused"))
                continue
            if message.message_id not in held:
                cls.outbox.append(message)
                held.add(message.message_id)
            results.append(SendResult.sent(message.message_id))
        return results

    def query(self, message_ids: Sequence[str]) -> dict[str, str]:
        """ "sent" for each id the outbox holds, "unknown" for the others (a refused message was never held)."""
        held = {m.message_id for m in type(self).outbox}
        return {i: SENT if i in held else UNKNOWN for i in message_ids}

    @classmethod
    def reset(cls) -> None:
        cls.outbox.clear()
        cls.batches.clear()
        cls.refused.clear()


IDS = ".ids"  # the file backends' held message ids: one empty marker file per id


def _marker(directory: Path, message_id: str) -> Path:
    # The id names a file: refuse anything that could leave the directory.
    if not message_id or message_id in {".", ".."} or "/" in message_id or os.sep in message_id or "\0" in message_id:
        raise ValueError(f"message id {message_id!r} cannot name a file")
    return directory / IDS / message_id


def hold_message_id(directory: Path, message_id: str) -> bool:
    """Claim `message_id` in `directory`: True when this call is the first to hold it. The marker is created with
    O_CREAT | O_EXCL, which the file system makes atomic, so of two processes claiming one id only one wins."""
    marker = _marker(directory, message_id)
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_message_file(directory: Path, message) -> Path:
    """One JSON file per message, named `<time ns>-<message id>.json` (sorted by time), written then renamed so a
    reader never sees half a file. Holds the id too (so `query` knows it) but writes even when it was held: single
    sends (one-time codes) are not deduplicated."""
    directory.mkdir(parents=True, exist_ok=True)
    hold_message_id(directory, message.message_id)
    return _write(directory, message)


def _write(directory: Path, message) -> Path:
    path = directory / f"{time.time_ns()}-{message.message_id}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(message), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_message_files(directory: Path, messages: Sequence) -> list[SendResult]:
    """Write each message whose id `directory` does not hold yet. One marker per id (`<directory>/.ids/<id>`)
    instead of listing the directory: O(1) per message however big the campaign, and exact across processes. The
    id is claimed before the file is written: a process killed in between leaves the id held without its file, as
    a provider that took a message and lost it would."""
    directory.mkdir(parents=True, exist_ok=True)
    for message in messages:
        if hold_message_id(directory, message.message_id):
            _write(directory, message)
    return [SendResult.sent(m.message_id) for m in messages]


def query_message_files(directory: Path, message_ids: Sequence[str]) -> dict[str, str]:
    """ "sent" for each id `directory` holds, "unknown" for the others."""
    return {i: SENT if _marker(directory, i).exists() else UNKNOWN for i in message_ids}


@dataclass(frozen=True)
class HttpProvider:
    """The generic `http` provider of one channel (see the module docstring)."""

    url: str
    secret: str
    timeout: float
    batch_url: str = ""
    batch_size: int = 100
    status_url: str = ""
    temporary: type[Exception] = DeliveryError
    refusal: type[Exception] = Rejected

    def post(self, url: str, payload: Any, headers: dict[str, str], what: str = "message") -> requests.Response:
        """POST `payload` signed; raises `temporary` when unreachable or on 5xx/429, `refusal` on another 4xx."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Huiyuan-Signature": "sha256=" + sign(body, self.secret),
            **headers,
        }
        try:
            response = requests.post(url, data=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise self.temporary(f"provider unreachable: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise self.temporary(f"provider answered {response.status_code}")
        if response.status_code >= 400:
            raise self.refusal(f"provider refused the {what}: {response.status_code} {response.text[:200]}")
        return response

    def send(self, message) -> None:
        self.post(self.url, asdict(message), {"X-Huiyuan-Message-Id": message.message_id})

    def send_many(self, messages: Sequence) -> list[SendResult]:
        if not self.batch_url:
            return [self._one(message) for message in messages]
        results = []
        for batch in chunked(messages, self.batch_size):
            results.extend(self._batch(batch))
        return results

    def _one(self, message) -> SendResult:
        try:
            self.send(message)
        except self.refusal as exc:
            return SendResult.failed(message.message_id, str(exc))
        return SendResult.sent(message.message_id)

    def _batch(self, batch: list) -> list[SendResult]:
        ids = [m.message_id for m in batch]
        batch_id = hashlib.sha256(",".join(ids).encode()).hexdigest()[:32]
        try:
            response = self.post(
                self.batch_url, {"messages": [asdict(m) for m in batch]}, {"X-Huiyuan-Batch-Id": batch_id}, "batch"
            )
        except self.refusal as exc:
            return [SendResult.failed(i, str(exc)) for i in ids]
        try:
            answered = response.json().get("results")
        except (ValueError, AttributeError):
            answered = None
        if not isinstance(answered, list):
            return [SendResult.sent(i) for i in ids]
        outcome = {r.get("message_id"): r for r in answered if isinstance(r, dict)}
        results = []
        for i in ids:
            result = outcome.get(i)
            if result is None:
                results.append(SendResult.failed(i, "no result from the provider"))
            elif result.get("status") == SENT:
                results.append(SendResult.sent(i))
            else:
                results.append(SendResult.failed(i, str(result.get("error") or "failed")))
        return results

    def query(self, message_ids: Sequence[str]) -> dict[str, str]:
        """Ask the provider's status endpoint about `message_ids` (see the module docstring); "unknown" for all when
        there is none. Raises `temporary` when the provider cannot answer now."""
        outcome = dict.fromkeys(message_ids, UNKNOWN)
        if not self.status_url:
            return outcome
        for part in chunked(list(outcome), self.batch_size):
            response = self.post(self.status_url, {"message_ids": part}, {}, "status query")
            try:
                answered = response.json().get("results")
            except (ValueError, AttributeError):
                answered = None
            for result in answered if isinstance(answered, list) else []:
                if not isinstance(result, dict) or result.get("message_id") not in outcome:
                    continue
                status = {"delivered": SENT}.get(result.get("status"), result.get("status"))
                outcome[result["message_id"]] = status if status in (SENT, FAILED) else UNKNOWN
        return outcome


def _channels() -> dict[str, tuple[Callable[[], Any], type]]:
    from .push import PushMessage
    from .push import get_backend as push_backend
    from .sms import SmsMessage
    from .sms import get_backend as sms_backend

    return {"sms": (sms_backend, SmsMessage), "push": (push_backend, PushMessage)}


CHANNELS = ("sms", "push")


def messages_send_now(*, channel: str, messages: list[dict]) -> list[SendResult]:
    """Hand one chunk of messages (as dicts) to the channel's configured backend; raises DeliveryError."""
    get_backend, message_class = _channels()[channel]
    return get_backend().send_many([message_class(**m) for m in messages])


def messages_send(*, channel: str, messages: Sequence, chunk: int = CHUNK, on_results=None) -> int:
    """Queue `messages` (SmsMessage or PushMessage, each with its own id) on `channel` ("sms" or "push") after the
    current transaction commits: one task per chunk of `chunk` messages. `on_results` (a Celery signature) is
    called with each chunk's results, [{"message_id", "status", "reason"}], once the chunk is sent; a chunk whose
    retries run out reports nothing, so what it was to send stays as it was for a sweep to find. Returns the number
    of chunks."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    from .tasks import messages_send_chunk  # tasks import this module

    payloads = [[asdict(m) for m in part] for part in chunked(messages, chunk)]

    def dispatch() -> None:
        for payload in payloads:
            messages_send_chunk.apply_async(args=[channel, payload], link=on_results)

    transaction.on_commit(dispatch)
    return len(payloads)
