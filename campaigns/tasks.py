"""Campaign tasks: the snapshot, the senders and the minute tick (SPEC 12). Every one is idempotent (the message
rows are the state), hence acks_late with reject_on_worker_lost: a killed worker's task runs again.

Senders: SENDERS tasks per campaign, each holding a slot (a cache key with a lease, refreshed each batch), so the
tick and the continuations never pile up more; a killed sender's slot lapses after SLOT_LEASE and the tick starts
another. A sender works for at most RUN_SECONDS, then queues its own continuation (no task runs near the broker's
visibility timeout)."""

import logging
import secrets
import time

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from shops.messaging import DeliveryError
from shops.tenancy import task_shop_scope

from .models import CampaignStatus
from .selectors import campaign_get, campaigns_due_all_shops, campaigns_sending_all_shops
from .sending import claims_settle, send_batch
from .services import campaign_finish_if_done, campaign_start_if_due
from .snapshot import snapshot_run

log = logging.getLogger(__name__)

SENDERS = 2
SLOT_LEASE = 60  # seconds
RUN_SECONDS = 30


def _slot_key(shop_id: int, campaign_id: int, slot: int) -> str:
    return f"campaigns:sender:{shop_id}:{campaign_id}:{slot}"


def senders_start(shop_id: int, campaign_id: int) -> None:
    for slot in range(SENDERS):
        campaign_send.delay(shop_id, campaign_id, slot)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def campaign_snapshot(shop_id: int, campaign_id: int) -> None:
    """Write the campaign's message rows (from the cursor on), then start the senders."""
    with task_shop_scope(shop_id) as shop:
        snapshot_run(shop=shop, campaign_id=campaign_id)
    senders_start(shop_id, campaign_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def campaign_send(shop_id: int, campaign_id: int, slot: int = 0) -> int:
    """Send the campaign's due messages for up to RUN_SECONDS, batch by batch, while it is `sending`. Returns the
    number of rows claimed."""
    key, token = _slot_key(shop_id, campaign_id, slot), secrets.token_hex(8)
    if not cache.add(key, token, SLOT_LEASE):
        return 0  # another sender holds this slot
    claimed, more = 0, False
    deadline = time.monotonic() + RUN_SECONDS
    try:
        with task_shop_scope(shop_id) as shop:
            while time.monotonic() < deadline:
                campaign = campaign_get(shop=shop, pk=campaign_id, standing=True)
                if campaign.status != CampaignStatus.SENDING:
                    break
                try:
                    n = send_batch(shop=shop, campaign=campaign)
                except DeliveryError:
                    break  # the batch waits with a backoff; the tick brings a sender back
                if not n:
                    campaign_finish_if_done(shop=shop, campaign_id=campaign_id)
                    break
                claimed += n
                cache.set(key, token, SLOT_LEASE)
            else:
                more = True
    finally:
        if cache.get(key) == token:
            cache.delete(key)
    if more:
        campaign_send.delay(shop_id, campaign_id, slot)
    return claimed


@shared_task
def campaigns_tick() -> dict:
    """Every minute: start scheduled campaigns that are due, carry on snapshots a lost task left, settle claims
    whose sender died, and bring senders to campaigns with messages due (quiet hours ended, a backoff over)."""
    now = timezone.now()
    started = resumed = 0
    due, sending = campaigns_due_all_shops(now=now), campaigns_sending_all_shops(now=now)
    for shop_id, campaign_id in due:
        campaign_due_start.delay(shop_id, campaign_id)
        started += 1
    for shop_id, campaign_id in sending:
        campaign_resume_work.delay(shop_id, campaign_id)
        resumed += 1
    return {"started": started, "sending": resumed}


@shared_task(acks_late=True, reject_on_worker_lost=True)
def campaign_due_start(shop_id: int, campaign_id: int) -> None:
    with task_shop_scope(shop_id) as shop:
        campaign_start_if_due(shop=shop, campaign_id=campaign_id, now=timezone.now())


@shared_task(acks_late=True, reject_on_worker_lost=True)
def campaign_resume_work(shop_id: int, campaign_id: int) -> None:
    """The tick's work on one sending campaign."""
    with task_shop_scope(shop_id) as shop:
        campaign = campaign_get(shop=shop, pk=campaign_id, standing=True)
        if not campaign.snapshot_done:
            campaign_snapshot.delay(shop_id, campaign_id)
            return
        if settled := claims_settle(shop=shop, campaign=campaign):
            log.info("campaign %s: %s stale claims settled", campaign_id, settled)
        if not campaign_finish_if_done(shop=shop, campaign_id=campaign_id):
            senders_start(shop_id, campaign_id)
