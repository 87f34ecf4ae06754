"""The daily rollup pass (SPEC 14): hourly for every shop, so each shop's yesterday is rolled up within the hour
after its local midnight (a shop whose day has not ended, or that is rolled through yesterday with nothing marked
dirty, does nothing); then, once per shop-local day, the deeper views (cohorts, RFM, items bought together)."""

from celery import shared_task

from shops.tasks import fan_out_per_shop
from shops.tenancy import task_shop_scope

from .clv.scores import clv_pass
from .deep import deep_views_pass
from .rollups import rollup_pass


@shared_task(acks_late=True, reject_on_worker_lost=True)
def analytics_rollup_shop(shop_id: int) -> int:
    with task_shop_scope(shop_id) as shop:
        days = len(rollup_pass(shop=shop))
        deep_views_pass(shop=shop)
        return days


@shared_task
def analytics_rollup_all_shops() -> int:
    return fan_out_per_shop(analytics_rollup_shop)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def analytics_clv_shop(shop_id: int) -> bool:
    """Member intelligence (SPEC 15): the shop's models fitted and its members scored once per shop-local day."""
    with task_shop_scope(shop_id) as shop:
        return clv_pass(shop=shop)


@shared_task
def analytics_clv_all_shops() -> int:
    return fan_out_per_shop(analytics_clv_shop)
