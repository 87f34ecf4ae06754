from celery import shared_task

from shops.tasks import fan_out_per_shop
from shops.tenancy import task_shop_scope
from shops.time import local_today

from .models import EvaluationMode
from .services import tier_schedules_apply_due, tiers_evaluate


@shared_task(acks_late=True, reject_on_worker_lost=True)
def tiers_evaluate_shop(shop_id: int, mode: str = EvaluationMode.FULL) -> int:
    """Evaluate one shop's members (idempotent: a re-run at once changes nothing). Returns the evaluation's id."""
    with task_shop_scope(shop_id) as shop:
        return tiers_evaluate(shop=shop, mode=mode).pk


@shared_task(acks_late=True, reject_on_worker_lost=True)
def tiers_daily_shop(shop_id: int) -> int:
    """Apply the shop's tier changes due today (in its time zone), then the incremental evaluation. Idempotent:
    applied changes are not applied again. Returns the evaluation's id."""
    with task_shop_scope(shop_id) as shop:
        tier_schedules_apply_due(shop=shop, today=local_today(shop))
        return tiers_evaluate(shop=shop, mode=EvaluationMode.INCREMENTAL).pk


@shared_task
def tiers_daily_all_shops() -> int:
    """Nightly, after the 12-month figures and rule tags: one task per shop."""
    return fan_out_per_shop(tiers_daily_shop)
