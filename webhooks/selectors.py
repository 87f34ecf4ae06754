"""Reads of webhooks and the events API (SPEC 17). Every one takes the shop."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from events.models import Event
from events.outbox import uuid7
from shops.models import Shop, StaffMembership
from shops.roles import Role

from .models import Attempt, Delivery, DeliveryStatus, Endpoint

MAX_ENDPOINTS = 20  # per shop


def endpoint_list(*, shop: Shop) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(shop=shop, deleted_at__isnull=True).order_by("pk")


def endpoint_get(*, shop: Shop, pk: int) -> Endpoint:
    return endpoint_list(shop=shop).get(pk=pk)


def endpoints_disabled(*, shop: Shop) -> list[Endpoint]:
    return list(endpoint_list(shop=shop).filter(enabled=False))


def delivery_list(*, shop: Shop, endpoint: Endpoint) -> QuerySet[Delivery]:
    return Delivery.objects.filter(shop=shop, endpoint=endpoint)


def delivery_get(*, shop: Shop, endpoint: Endpoint, pk: int) -> Delivery:
    return delivery_list(shop=shop, endpoint=endpoint).get(pk=pk)


def attempts_of(*, shop: Shop, deliveries: list[Delivery]) -> dict[int, list[Attempt]]:
    """The attempts of these deliveries, oldest first, by delivery id."""
    found: dict[int, list[Attempt]] = {d.pk: [] for d in deliveries}
    rows = Attempt.objects.filter(shop=shop, delivery_id__in=list(found)).order_by("attempted_at", "pk")
    for attempt in rows:
        found[attempt.delivery_id].append(attempt)
    return found


def owner_emails(*, shop: Shop) -> list[str]:
    rows = StaffMembership.objects.filter(shop=shop, role=Role.OWNER, user__is_active=True)
    return sorted(rows.values_list("user__email", flat=True))


def event_by_id(*, shop: Shop, pk) -> Event:
    return Event.objects.filter(shop=shop, seq__isnull=False).get(pk=pk)


def events_payloads(*, shop: Shop, ids: list) -> dict:
    """{event id: (member_id, payload)} of these events (those not pruned yet)."""
    rows = Event.objects.filter(shop=shop, pk__in=ids).values_list("pk", "member_id", "payload")
    return {pk: (member_id, payload) for pk, member_id, payload in rows}


def events_window_start(*, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.EVENTS_RETENTION_DAYS)


def events_list(
    *, shop: Shop, after_seq: int = 0, types: list[str] | None = None, limit: int, now: datetime | None = None
) -> list[Event]:
    """The shop's events of the last 30 days after `after_seq`, in the order of its stream (oldest first): only
    numbered ones, since numbering follows commit order, so a reader never skips one that commits late."""
    rows = Event.objects.filter(shop=shop, seq__gt=after_seq, id__gte=uuid7(events_window_start(now=now)))
    if types:
        rows = rows.filter(type__in=types)
    return list(rows.order_by("seq")[:limit])


def due_endpoints_all_shops(*, now: datetime) -> list[tuple[int, int]]:
    """(shop_id, endpoint_id) of every enabled endpoint with a delivery due. # tenant-ok: beat's tick, all shops"""
    due = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    pairs = due.values_list("shop_id", "endpoint_id").distinct()
    awake = Q(paused_until__isnull=True) | Q(paused_until__lte=now)
    enabled = set(
        Endpoint.objects.filter(awake, enabled=True, deleted_at__isnull=True).values_list("shop_id", "pk")
    )  # tenant-ok: the tick's look across shops
    return sorted(pair for pair in pairs if pair in enabled)
