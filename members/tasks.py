from celery import shared_task

from shops.tasks import fan_out_per_shop
from shops.tenancy import task_shop_scope

from .imports.engine import import_job_shop_id_all_shops, import_process
from .imports.stale import import_stale_shop_ids_all_shops, imports_fail_stale
from .jobs import job_chunk_run, job_get, job_kind, job_run, jobs_resume
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


@shared_task(acks_late=True, reject_on_worker_lost=True)
def member_job_run(kind: str, shop_id: int, job_id: int) -> None:
    """Run a chunked job in sequence to its end (members.jobs.job_run). Idempotent: it carries on from the cursor."""
    with task_shop_scope(shop_id) as shop:
        job_run(kind=job_kind(kind), shop=shop, job=job_get(kind=job_kind(kind), shop=shop, pk=job_id))


@shared_task(acks_late=True, reject_on_worker_lost=True)
def member_job_chunk(kind: str, shop_id: int, chunk_id: int) -> None:
    """Do one chunk of a job run in parallel (members.jobs.job_chunk_run). Idempotent: a chunk is done once."""
    with task_shop_scope(shop_id) as shop:
        job_chunk_run(kind=job_kind(kind), shop=shop, chunk_id=chunk_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def member_jobs_resume_shop(shop_id: int) -> int:
    """Carry on one shop's chunked jobs whose task was lost (idempotent). Returns the tasks queued."""
    with task_shop_scope(shop_id) as shop:
        return jobs_resume(shop=shop)


@shared_task
def member_jobs_resume_all_shops() -> int:
    """Every few minutes: one task per shop."""
    return fan_out_per_shop(member_jobs_resume_shop)
