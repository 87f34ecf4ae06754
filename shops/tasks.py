import logging

from celery import shared_task

from .messaging import DeliveryError, messages_send_now
from .selectors import shop_ids_active
from .sms import SmsDeliveryError, SmsMessage, SmsRejected, get_backend

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(SmsDeliveryError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
)
def sms_deliver(self, message: dict) -> None:
    """Hand one message to the configured backend. Retried with exponential backoff on temporary failures; the
    message id stays the same, so the provider can drop a duplicate."""
    sms = SmsMessage(**message)
    try:
        get_backend().send(sms)
    except SmsRejected:
        logger.warning("SMS %s rejected by the provider for shop %s", sms.message_id, sms.shop_id)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DeliveryError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
)
def messages_send_chunk(channel: str, messages: list[dict]) -> list[dict]:
    """Send one chunk of messages (shops.messaging.messages_send queues them) through the channel's backend, in
    provider batches. Returns each message's result, for a linked task to record. A temporary failure sends the
    whole chunk again with backoff, and a killed worker's chunk runs again: the same message ids, which the
    provider drops when it already has them, so the task is idempotent."""
    results = messages_send_now(channel=channel, messages=messages)
    failed = [r for r in results if not r.ok]
    if failed:
        logger.warning("%s of %s %s messages refused, first: %s", len(failed), len(results), channel, failed[0].reason)
    return [{"message_id": r.message_id, "status": r.status, "reason": r.reason} for r in results]


def fan_out_per_shop(task) -> int:
    """Queue `task(shop_id)` once per active shop, so a large shop does not hold back the others. Returns how many
    were queued."""
    shop_ids = shop_ids_active()
    for shop_id in shop_ids:
        task.delay(shop_id)
    return len(shop_ids)
