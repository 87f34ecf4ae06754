import logging

from celery import shared_task

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


def fan_out_per_shop(task) -> int:
    """Queue `task(shop_id)` once per active shop, so a large shop does not hold back the others. Returns how many
    were queued."""
    shop_ids = shop_ids_active()
    for shop_id in shop_ids:
        task.delay(shop_id)
    return len(shop_ids)
