"""From committed events to consumers (SPEC 9): numbering, nudging, feeding, sweeping, pruning.

- A transaction that wrote events nudges its shop's dispatcher after commit (`nudge_on_commit`); the nudge
  enqueues one dispatch task, unless one is already due (a Redis key), so a busy shop costs a task per burst, not
  per order.
- The dispatcher numbers the shop's committed events (`sequence`) under the stream row's lock, in id order, and
  hands each consumer that is behind to a feed task, which applies chunks until it has caught up.
- The sweep (beat, every minute) dispatches every shop with events not yet numbered or a consumer behind: a lost
  nudge or task, a worker killed mid-chunk, a consumer that failed, are all picked up from the database.
- Pruning (beat, daily) deletes events older than the retention (SPEC 9: 30 days)."""

import contextlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from shops.availability import REDIS_DOWN
from shops.bulk import rows_affected

from .consumers import consumers
from .models import Cursor, Event, Stream

logger = logging.getLogger(__name__)

SEQUENCE_CHUNK = 10_000
PRUNE_CHUNK = 10_000
NUDGE_TTL = 10  # seconds: a dispatch task lost before it ran delays the next nudge this long, at most


def _nudge_key(shop_id: int) -> str:
    return f"events:dispatch-due:{shop_id}"


def nudge_on_commit(shop_id: int) -> None:
    """Nudge the shop's dispatcher when the current transaction commits, once per transaction and shop."""
    pending = (func for _sids, func, _robust in connection.run_on_commit)
    if any(getattr(func, "events_shop_id", None) == shop_id for func in pending):
        return

    def run() -> None:
        nudge(shop_id)

    run.events_shop_id = shop_id
    transaction.on_commit(run, robust=True)  # the fact has committed: a failed nudge is the sweep's to mend


def nudge(shop_id: int) -> None:
    from .tasks import events_dispatch

    try:
        if not cache.add(_nudge_key(shop_id), 1, timeout=NUDGE_TTL):
            return  # a dispatch is due already and will see these events
    except REDIS_DOWN:
        pass  # without the key, one task per transaction: more tasks, no event left behind
    events_dispatch.delay(shop_id)


def nudge_clear(shop_id: int) -> None:
    """The dispatcher's first step: events committed after this nudge again."""
    with contextlib.suppress(*REDIS_DOWN):
        cache.delete(_nudge_key(shop_id))


@transaction.atomic
def sequence(*, shop_id: int) -> int:
    """Number the shop's committed events not yet numbered, after the stream's head, in id order. Returns how many
    were numbered. Serialised per shop by the stream row's lock."""
    Stream.objects.bulk_create([Stream(shop_id=shop_id)], ignore_conflicts=True)
    head = Stream.objects.select_for_update().filter(shop_id=shop_id).values_list("head", flat=True).get()
    numbered = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                """WITH pending AS (
                       SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n FROM events_event
                       WHERE shop_id = %s AND seq IS NULL ORDER BY id LIMIT %s)
                   UPDATE events_event SET seq = %s + pending.n FROM pending
                   WHERE events_event.shop_id = %s AND events_event.id = pending.id""",
                [shop_id, SEQUENCE_CHUNK, head + numbered, shop_id],
            )
            done = rows_affected(cursor)
            numbered += done
            if done < SEQUENCE_CHUNK:
                break
    if numbered:
        Stream.objects.filter(shop_id=shop_id).update(head=head + numbered)
    return numbered


def behind(*, shop_id: int) -> list[str]:
    """The consumers whose cursor is behind the shop's stream."""
    head = Stream.objects.filter(shop_id=shop_id).values_list("head", flat=True).first() or 0
    positions = dict(Cursor.objects.filter(shop_id=shop_id).values_list("consumer", "position"))
    return [c.name for c in consumers() if positions.get(c.name, 0) < head]


def shops_to_dispatch() -> set[int]:
    """Every shop with events not yet numbered or a consumer behind (the sweep's work). # tenant-ok: all shops"""
    due = set(Event.objects.filter(seq__isnull=True).values_list("shop_id", flat=True).distinct())
    names = {c.name for c in consumers()}
    positions: dict[int, dict[str, int]] = {}
    for shop_id, name, position in Cursor.objects.values_list("shop_id", "consumer", "position"):
        positions.setdefault(shop_id, {})[name] = position
    for shop_id, head in Stream.objects.filter(head__gt=0).values_list("shop_id", "head"):
        if any(positions.get(shop_id, {}).get(name, 0) < head for name in names):
            due.add(shop_id)
    return due


def prune(*, now=None) -> int:
    """Delete events older than the retention, in short transactions. Returns how many. # tenant-ok: all shops"""
    from .outbox import uuid7

    oldest = uuid7((now or timezone.now()) - timedelta(days=settings.EVENTS_RETENTION_DAYS))
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(Event.objects.filter(id__lt=oldest).order_by("id").values_list("id", flat=True)[:PRUNE_CHUNK])
            if not ids:
                return deleted
            deleted += Event.objects.filter(id__in=ids).delete()[0]
