"""Writing domain events (SPEC 9): in the transaction of the fact, one row per event, one statement per batch.

`emit` writes one event; `emit_many` writes many in one INSERT. Inside `batch()` (the set-based paths: a batch of
orders, whose effects emit points and tier events too) both only collect, and the batch writes everything it
collected in one statement as it ends. After the transaction commits, the shop's dispatcher is nudged
(events.dispatch.nudge), once per transaction and shop."""

import random
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.utils import timezone

from shops.bulk import insert_rows

from .dispatch import nudge_on_commit
from .types import EventType

COLUMNS = [
    ("id", "uuid"),
    ("shop_id", "int"),
    ("type", "text"),
    ("member_id", "int"),
    ("occurred_at", "datetime"),
    ("payload", "json"),
]


_clock = threading.Lock()
_last = [0, 0]  # the millisecond of the last id made by this process, and its counter


def uuid7(at: datetime | None = None) -> uuid.UUID:
    """A version 7 UUID (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter, 62 random bits. Ids made by
    one process increase strictly (the counter orders those of one millisecond, RFC 9562 method 1), so the
    events of one transaction sort in the order they were emitted. `at` gives the smallest id of that instant's
    millisecond, to compare with (pruning by age)."""
    if at is not None:
        return uuid.UUID(int=(int(at.timestamp() * 1000) << 80) | (0x7 << 76) | (0b10 << 62))
    with _clock:
        ms = time.time_ns() // 1_000_000
        if ms > _last[0]:
            _last[:] = [ms, 0]
        elif _last[1] < 0xFFF:
            _last[1] += 1
        else:  # 4,096 ids in one millisecond: borrow the next one
            _last[:] = [_last[0] + 1, 0]
        ms, counter = _last
    # Random bits for uniqueness, not secrecy (an event id grants nothing): the module's generator, seeded from the
    # system and reseeded in every forked worker by Python, costs a tenth of a system call per id.
    rand = random.getrandbits(62)
    return uuid.UUID(int=(ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand)


@dataclass(frozen=True)
class NewEvent:
    type: EventType
    member_id: int | None
    payload: dict = field(default_factory=dict)
    occurred_at: datetime | None = None  # now, when the fact is the write itself


_collecting: ContextVar[list | None] = ContextVar("events_collecting", default=None)


def emit(
    *,
    shop_id: int,
    type: EventType,
    member_id: int | None,
    payload: dict | None = None,
    occurred_at: datetime | None = None,
) -> None:
    """Write one event in the current transaction (or into the current batch)."""
    emit_many(shop_id=shop_id, events=[NewEvent(type, member_id, payload or {}, occurred_at)])


def emit_many(*, shop_id: int, events: Iterable[NewEvent]) -> None:
    """Write events in one statement, in the current transaction (or into the current batch)."""
    assert connection.in_atomic_block, "an event is written in the transaction of its fact"
    now = timezone.now()
    rows = [(uuid7(), shop_id, e.type.value, e.member_id, e.occurred_at or now, e.payload) for e in events]
    if not rows:
        return
    collected = _collecting.get()
    if collected is not None:
        collected.extend(rows)
    else:
        _write(rows)


@contextmanager
def batch() -> Iterator[None]:
    """Collect the events emitted inside, and write them in one statement at the end (not on an exception: the
    transaction is then rolled back anyway). Nests: an inner batch leaves the writing to the outer one."""
    if _collecting.get() is not None:
        yield
        return
    rows: list = []
    token = _collecting.set(rows)
    try:
        yield
    finally:
        _collecting.reset(token)
    _write(rows)


def _write(rows: list) -> None:
    if not rows:
        return
    insert_rows("events_event", COLUMNS, rows)
    for shop_id in {row[1] for row in rows}:
        nudge_on_commit(shop_id)


def insert_select_sql(
    *, shop_id: int, type: EventType, source: str, member: str, payload: dict[str, str], occurred_at: str
) -> str:
    """An INSERT ... SELECT that writes one event per row of `source` (a FROM clause, with its joins), for the
    set-based paths whose rows never come to Python (a tier evaluation over a million members). `member`,
    `occurred_at` and the values of `payload` are SQL expressions over `source`. The id is made in SQL as uuid7()
    makes it. For a statement run with parameters (its % signs are doubled). The caller runs it in the
    transaction of the fact, and calls nudge_on_commit(shop_id)."""
    postgres = connection.vendor == "postgresql"
    pairs = ", ".join(f"'{key}', {expression}" for key, expression in payload.items())
    if postgres:
        event_id = (
            "CAST(lpad(to_hex(CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint)), 12, '0') || '7' || "
            "lpad(to_hex(CAST(row_number() OVER () %% 4096 AS int)), 3, '0') || "
            "to_hex(8 + CAST(floor(random() * 4) AS int)) || substr(md5(random()::text), 1, 15) AS uuid)"
        )
        body = f"jsonb_build_object({pairs})"
    else:
        event_id = (
            "printf('%%012x', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) || '7' || "
            "printf('%%03x', (row_number() OVER ()) %% 4096) || substr('89ab', 1 + abs(random() %% 4), 1) || "
            "lower(substr(hex(randomblob(8)), 1, 15))"
        )
        body = f"json_object({pairs})"
    columns = ", ".join(name for name, _kind in COLUMNS)
    # Every part is SQL from code (the caller's expressions included); the type is a constant of EventType.
    return (
        f"INSERT INTO events_event ({columns}) "  # noqa: S608
        f"SELECT {event_id}, {int(shop_id)}, '{EventType(type).value}', {member}, {occurred_at}, {body} FROM {source}"
    )
