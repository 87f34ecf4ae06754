"""Consumers of domain events (SPEC 9): the one registry, and feeding one consumer one shop's stream.

An app registers its consumers in its AppConfig.ready():

    register_consumer(Consumer("coupons.tier_gifts", types={EventType.TIER_CHANGED}, handle=tier_gifts_on_events))

`handle(*, shop, events)` receives the consumer's events of one shop in sequence order, in chunks, inside the
transaction that moves the consumer's cursor past them: what it writes to the database commits with the cursor or
not at all, so a killed worker's chunk is read again and applied once. Delivery is at least once: what a consumer
does outside the database (a message, a webhook) must be idempotent by event id, as must any writes it commits on
its own."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone

from shops.models import Shop

from .models import Cursor, Event, Stream
from .types import EventType

CHUNK = 1000  # sequence numbers read per transaction


@dataclass(frozen=True)
class DomainEvent:
    id: UUID
    shop_id: int
    type: str
    member_id: int | None
    occurred_at: datetime
    seq: int
    payload: dict


@dataclass(frozen=True)
class Consumer:
    name: str  # stable: it names the cursor rows
    handle: Callable[..., None]  # handle(*, shop, events: list[DomainEvent])
    types: frozenset[EventType] = field(default_factory=frozenset)  # empty: every type
    chunk: int = CHUNK


_registry: dict[str, Consumer] = {}


def register_consumer(consumer: Consumer) -> None:
    if _registry.get(consumer.name, consumer) != consumer:
        raise ValueError(f"Two consumers named {consumer.name!r}")
    _registry[consumer.name] = consumer


def unregister_consumer(name: str) -> None:
    """For tests that register a consumer of their own."""
    _registry.pop(name, None)


def consumers() -> list[Consumer]:
    return list(_registry.values())


def consumer_get(name: str) -> Consumer:
    return _registry[name]


def _locked_cursor(shop: Shop, name: str) -> Cursor | None:
    """The consumer's cursor for the shop, locked; None when another feeder holds it (it will carry on)."""
    Cursor.objects.bulk_create([Cursor(shop=shop, consumer=name)], ignore_conflicts=True)
    rows = Cursor.objects.select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked)
    return rows.filter(shop=shop, consumer=name).first()


def consumer_feed_chunk(*, shop: Shop, consumer: Consumer) -> bool | None:
    """Apply the consumer's next chunk of the shop's stream and move its cursor, in one transaction. Returns True
    when it has caught up with the stream, False when there is more, None when another feeder is at work."""
    with transaction.atomic():
        cursor = _locked_cursor(shop, consumer.name)
        if cursor is None:
            return None
        head = Stream.objects.filter(shop=shop).values_list("head", flat=True).first() or 0
        if cursor.position >= head:
            return True
        upper = min(head, cursor.position + consumer.chunk)
        rows = Event.objects.filter(shop=shop, seq__gt=cursor.position, seq__lte=upper)
        if consumer.types:
            rows = rows.filter(type__in=[t.value for t in consumer.types])
        fields = ("id", "shop_id", "type", "member_id", "occurred_at", "seq", "payload")
        events = [DomainEvent(*values) for values in rows.order_by("seq").values_list(*fields)]
        if events:
            consumer.handle(shop=shop, events=events)
        Cursor.objects.filter(pk=cursor.pk).update(position=upper, updated_at=timezone.now())
        return upper >= head
