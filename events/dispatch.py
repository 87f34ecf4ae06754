"""From committed events to consumers (SPEC 9): numbering, nudging, feeding, sweeping, pruning.

- A transaction that wrote events nudges its shop's dispatcher after commit (`nudge_on_commit`); the nudge
  enqueues one dispatch task to start DISPATCH_DELAY later, unless one is due already (a Redis key, which the
  dispatch deletes as it starts): a busy shop costs one dispatch (and a feed per consumer) a second, each for
  everything committed meanwhile, not one per order. (A dispatch per process and half second measured a third
  slower on the single-order API: the numbering and feeding compete with the requests for the machine.) With
  eager tasks (no broker: the embedded defaults, the tests) every commit dispatches at once.
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
from shops.bulk import values_cte
from shops.models import Shop

from .consumers import consumers
from .models import Cursor, Event, Stream

logger = logging.getLogger(__name__)

SEQUENCE_CHUNK = 10_000
PRUNE_CHUNK = 10_000
NUDGE_TTL = 10  # seconds: a dispatch task lost before it ran delays the next nudge this long, at most
DISPATCH_DELAY = 1.0  # seconds from the first commit of a burst to its dispatch (SPEC 9's lag: p95 under 2 s)


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

    if events_dispatch.app.conf.task_always_eager:
        events_dispatch(shop_id)
        return
    try:
        if not cache.add(_nudge_key(shop_id), 1, timeout=NUDGE_TTL):
            return  # a dispatch is due already and will see these events
    except REDIS_DOWN:
        pass  # without the key, one task per transaction: more tasks, no event left behind
    # A short countdown (far within the broker's visibility timeout) gathers the burst's later commits.
    events_dispatch.apply_async((shop_id,), countdown=DISPATCH_DELAY)


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
    pending = Event.objects.filter(shop_id=shop_id, seq__isnull=True).order_by("id").values_list("id", flat=True)
    while ids := list(pending[:SEQUENCE_CHUNK]):
        # The numbers travel with the ids and the update finds each row by its key: a join planned inside the
        # statement had PostgreSQL's cached plan scan the whole table per pending row once statistics were stale
        # (minutes for 100,000 events, against a second).
        numbers = [(pk, seq) for seq, pk in enumerate(ids, head + numbered + 1)]
        v, params = values_cte("v", [("id", "uuid"), ("seq", "int")], numbers)
        with connection.cursor() as cursor:
            cursor.execute(
                f"{v} UPDATE events_event SET seq = v.seq FROM v "  # noqa: S608 - SQL from code
                "WHERE events_event.shop_id = %s AND events_event.id = v.id",
                [*params, shop_id],
            )
        numbered += len(ids)
        if len(ids) < SEQUENCE_CHUNK:
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
    """Delete events older than the retention, shop by shop in short transactions. Returns how many.

    Shop by shop, since the primary key is (shop_id, id) (shops.distribution): each chunk is a range of that key,
    and on Citus each statement goes to the one node holding the shop. # tenant-ok: every shop, each in turn"""
    from .outbox import uuid7

    oldest = uuid7((now or timezone.now()) - timedelta(days=settings.EVENTS_RETENTION_DAYS))
    deleted = 0
    for shop_id in Shop.objects.order_by("pk").values_list("pk", flat=True):
        while True:
            with transaction.atomic():
                old = Event.objects.filter(shop_id=shop_id, id__lt=oldest).order_by("id")
                ids = list(old.values_list("id", flat=True)[:PRUNE_CHUNK])
                if not ids:
                    break
                deleted += Event.objects.filter(shop_id=shop_id, id__in=ids).delete()[0]
    return deleted
