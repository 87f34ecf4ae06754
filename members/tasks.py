from celery import shared_task

from shops.selectors import shop_ids_active
from shops.tenancy import task_shop_scope

from .tags import tags_refresh_all


@shared_task(acks_late=True, reject_on_worker_lost=True)
def rule_tags_refresh_shop(shop_id: int) -> int:
    """Refresh every rule tag of one shop (idempotent). Returns the number of tags refreshed."""
    with task_shop_scope(shop_id) as shop:
        return len(tags_refresh_all(shop=shop))


@shared_task
def rule_tags_refresh_all_shops() -> int:
    """Nightly, after the 12-month figures: one task per shop."""
    shop_ids = shop_ids_active()
    for shop_id in shop_ids:
        rule_tags_refresh_shop.delay(shop_id)
    return len(shop_ids)
