"""The event tasks: dispatch (per shop, on a nudge), feed (per shop and consumer), sweep and prune (beat). All are
idempotent (the cursors and the stream row are the state), hence acks_late with reject_on_worker_lost: a killed
worker's task runs again, and what it had not committed is read again."""

import time

from celery import shared_task
from django_scopes import scopes_disabled

from shops.tenancy import task_shop_scope

from .consumers import consumer_feed_chunk, consumer_get
from .dispatch import behind, nudge_clear, prune, sequence, shops_to_dispatch

FEED_BUDGET = 20.0  # seconds of feeding per task; a consumer further behind continues in a new task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def events_dispatch(shop_id: int) -> int:
    """Number the shop's new events and start a feed for each consumer behind. Returns how many were numbered."""
    nudge_clear(shop_id)
    with task_shop_scope(shop_id):
        numbered = sequence(shop_id=shop_id)
        for name in behind(shop_id=shop_id):
            events_feed.delay(shop_id, name)
    return numbered


@shared_task(acks_late=True, reject_on_worker_lost=True)
def events_feed(shop_id: int, consumer: str) -> None:
    """Feed one consumer one shop's stream until it has caught up, or for FEED_BUDGET seconds and then in a new
    task. Stops at once when another feed of the same pair holds the cursor."""
    started = time.monotonic()
    with task_shop_scope(shop_id) as shop:
        target = consumer_get(consumer)
        while time.monotonic() - started < FEED_BUDGET:
            state = consumer_feed_chunk(shop=shop, consumer=target)
            if state is not False:
                return
    events_feed.delay(shop_id, consumer)


@shared_task
def events_sweep() -> int:
    """Dispatch every shop with events not numbered yet or a consumer behind. Returns the number of shops."""
    with scopes_disabled():
        due = shops_to_dispatch()
    for shop_id in sorted(due):
        events_dispatch.delay(shop_id)
    return len(due)


@shared_task
def events_prune() -> int:
    with scopes_disabled():
        return prune()
