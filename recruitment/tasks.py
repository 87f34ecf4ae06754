"""Periodic recruitment work: the channels' cached visit counters are copied into ChannelDay every few minutes,
one task per shop. The copy writes absolute figures and never lowers them, so it is idempotent."""

from celery import shared_task

from shops.tasks import fan_out_per_shop
from shops.tenancy import task_shop_scope

from .stats import channel_stats_flush


@shared_task(acks_late=True, reject_on_worker_lost=True)
def channel_stats_flush_shop(shop_id: int) -> int:
    with task_shop_scope(shop_id) as shop:
        return channel_stats_flush(shop=shop)


@shared_task
def channel_stats_flush_all_shops() -> int:
    return fan_out_per_shop(channel_stats_flush_shop)
