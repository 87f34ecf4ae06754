"""Automation tasks (SPEC 13): the daily pass per shop (hourly, so each shop's day starts within the hour after its
local midnight), and the steps: at once after a trigger entered members, and every minute for journeys whose wait
has ended. Every one is idempotent (the journeys are the state), hence acks_late with reject_on_worker_lost."""

from celery import shared_task

from shops.tasks import fan_out_per_shop
from shops.tenancy import task_shop_scope

from .daily import daily_pass
from .selectors import automations_with_due_steps, shops_with_due_steps_all_shops
from .steps import automation_advance


@shared_task(acks_late=True, reject_on_worker_lost=True)
def automations_advance_shop(shop_id: int) -> int:
    """Run the due steps of the shop's switched-on automations. Returns the steps run."""
    with task_shop_scope(shop_id) as shop:
        return sum(
            automation_advance(shop=shop, automation=automation) for automation in automations_with_due_steps(shop=shop)
        )


@shared_task(acks_late=True, reject_on_worker_lost=True)
def automations_daily_shop(shop_id: int) -> dict:
    with task_shop_scope(shop_id) as shop:
        done = daily_pass(shop=shop)
    if done:
        automations_advance_shop.delay(shop_id)
    return done


@shared_task
def automations_daily_all_shops() -> int:
    return fan_out_per_shop(automations_daily_shop)


@shared_task
def automations_tick() -> int:
    """Every minute: the shops with journeys whose next step is due."""
    shops = shops_with_due_steps_all_shops()
    for shop_id in shops:
        automations_advance_shop.delay(shop_id)
    return len(shops)
