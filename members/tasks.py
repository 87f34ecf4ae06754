from celery import shared_task

from shops.tasks import fan_out_per_shop
from shops.tenancy import task_shop_scope

from .imports.engine import import_job_shop_id_all_shops, import_process
from .imports.stale import import_stale_shop_ids_all_shops, imports_fail_stale
from .tags import tags_refresh_all


@shared_task(acks_late=True, reject_on_worker_lost=True)
def rule_tags_refresh_shop(shop_id: int) -> int:
    """Refresh every rule tag of one shop (idempotent). Returns the number of tags refreshed."""
    with task_shop_scope(shop_id) as shop:
        return len(tags_refresh_all(shop=shop))


@shared_task
def rule_tags_refresh_all_shops() -> int:
    """Nightly, after the 12-month figures: one task per shop."""
    return fan_out_per_shop(rule_tags_refresh_shop)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def import_run(job_id: int) -> None:
    """Process one uploaded import file in chunks. Idempotent: a re-delivered task resumes after the last chunk
    written, and a finished job is left as it is."""
    # The task receives only the job id; the job's shop must be read across shops before its scope can be entered.
    shop_id = import_job_shop_id_all_shops(job_id=job_id)
    if shop_id is None:
        return  # the job was deleted before the worker got to it
    with task_shop_scope(shop_id) as shop:
        import_process(shop=shop, job_id=job_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def imports_fail_stale_shop(shop_id: int) -> int:
    """Fail one shop's import jobs whose process died (idempotent). Returns how many were failed."""
    with task_shop_scope(shop_id) as shop:
        return imports_fail_stale(shop=shop)


@shared_task
def imports_fail_stale_all_shops() -> int:
    """Every few minutes: one task per shop that has an import job whose process died (rarely any)."""
    shop_ids = import_stale_shop_ids_all_shops()
    for shop_id in shop_ids:
        imports_fail_stale_shop.delay(shop_id)
    return len(shop_ids)
