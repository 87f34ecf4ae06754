"""Periodic coupon work, one task per shop: tier gifts (hourly, so each shop's local day and month are met within
the hour), expiry (nightly) and expiry reminders (daily), and the segment grant jobs. Every task is idempotent
(keys, GiftRun, conditional updates), hence acks_late with reject_on_worker_lost."""

from celery import shared_task

from members.jobs import job_run
from shops.tasks import fan_out_per_shop
from shops.tenancy import task_shop_scope

from .grants import GRANT
from .redemption import coupons_expire, coupons_expiry_reminders
from .selectors import grant_get
from .tier_gifts import tier_gifts_issue


@shared_task(acks_late=True, reject_on_worker_lost=True)
def grant_run(shop_id: int, job_id: int) -> int:
    """Run a segment grant to the end, chunk by chunk (members.jobs.job_run: paused or ended meanwhile, or the
    segment's filter no longer valid, the job fails and keeps what was granted). Returns the coupons issued so far."""
    with task_shop_scope(shop_id) as shop:
        job = grant_get(shop=shop, pk=job_id)
        job_run(kind=GRANT, shop=shop, job=job)
        job.refresh_from_db()
        return job.issued


@shared_task(acks_late=True, reject_on_worker_lost=True)
def tier_gifts_shop(shop_id: int) -> dict:
    with task_shop_scope(shop_id) as shop:
        return tier_gifts_issue(shop=shop)


@shared_task
def tier_gifts_all_shops() -> int:
    return fan_out_per_shop(tier_gifts_shop)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def coupons_expire_shop(shop_id: int) -> int:
    with task_shop_scope(shop_id) as shop:
        return coupons_expire(shop=shop)


@shared_task
def coupons_expire_all_shops() -> int:
    return fan_out_per_shop(coupons_expire_shop)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def coupons_expiry_reminders_shop(shop_id: int) -> int:
    with task_shop_scope(shop_id) as shop:
        return coupons_expiry_reminders(shop=shop)


@shared_task
def coupons_expiry_reminders_all_shops() -> int:
    return fan_out_per_shop(coupons_expiry_reminders_shop)
