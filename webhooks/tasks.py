"""Webhook tasks (SPEC 17). Senders are per endpoint: each holds one of the endpoint's slots (a cache key with a
lease, refreshed after each request), so an endpoint never has more than WEBHOOK_ENDPOINT_CONCURRENCY requests in
flight, and a slow or dead endpoint holds at most that many workers while the others carry on. The tick (beat,
every few seconds) brings a sender to every endpoint with deliveries due: retries whose time has come, claims a
killed worker left. All are idempotent (the rows are the state), hence acks_late with reject_on_worker_lost."""

import secrets
import time

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django_scopes import scopes_disabled

from shops.tenancy import task_shop_scope

from .retention import prune_all_shops
from .selectors import due_endpoints_all_shops
from .sending import endpoint_send_due

SLOT_LEASE = 30  # seconds; longer than one request (15 s), refreshed after each
RUN_SECONDS = 20  # then the sender queues its own continuation


def _slot_key(shop_id: int, endpoint_id: int, slot: int) -> str:
    return f"webhooks:sender:{shop_id}:{endpoint_id}:{slot}"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def webhook_send(shop_id: int, endpoint_id: int, slot: int | None = None) -> int:
    """Send the endpoint's due deliveries for up to RUN_SECONDS, holding a slot. Without `slot`, the first free
    one. Returns how many deliveries were attempted."""
    slots = range(settings.WEBHOOK_ENDPOINT_CONCURRENCY) if slot is None else [slot]
    token = secrets.token_hex(8)
    key = next((k for s in slots if cache.add(k := _slot_key(shop_id, endpoint_id, s), token, SLOT_LEASE)), None)
    if key is None:
        return 0  # every slot is taken: those senders will see these rows
    sent, more = 0, False
    deadline = time.monotonic() + RUN_SECONDS
    try:
        with task_shop_scope(shop_id) as shop:
            while True:
                n = endpoint_send_due(
                    shop=shop, endpoint_id=endpoint_id, on_each=lambda: cache.set(key, token, SLOT_LEASE)
                )
                sent += n
                if not n:
                    break
                if time.monotonic() > deadline:
                    more = True
                    break
    finally:
        if cache.get(key) == token:
            cache.delete(key)
    if more:
        webhook_send.delay(shop_id, endpoint_id)
    return sent


@shared_task
def webhooks_tick() -> int:
    """Every few seconds: a sender for each endpoint with deliveries due. Returns the number of endpoints."""
    with scopes_disabled():
        due = due_endpoints_all_shops(now=timezone.now())
    for shop_id, endpoint_id in due:
        for _slot in range(settings.WEBHOOK_ENDPOINT_CONCURRENCY):
            webhook_send.delay(shop_id, endpoint_id)
    return len(due)


@shared_task
def webhooks_prune() -> int:
    with scopes_disabled():
        return prune_all_shops()
