from celery import shared_task

from members.figures import member_windows_refresh
from shops.tasks import fan_out_per_shop
from shops.tenancy import task_shop_scope

from .models import COUNTED_STATUSES


@shared_task(acks_late=True, reject_on_worker_lost=True)
def member_windows_refresh_shop(shop_id: int) -> int:
    """Age rolling 12-month figures for one shop (idempotent: a re-run changes nothing)."""
    with task_shop_scope(shop_id) as shop:
        return member_windows_refresh(shop=shop, counted_statuses=COUNTED_STATUSES)


@shared_task
def member_windows_refresh_all_shops() -> int:
    """Nightly: one task per shop, so a large shop does not hold back the others."""
    return fan_out_per_shop(member_windows_refresh_shop)
