"""Chunked jobs over a shop's members (CONVENTIONS 5 and 5b), drawn from coupons.grants: a job row is the cursor,
members are read by id in chunks (keyset, never OFFSET), the work on a member is idempotent under a key made of the
job and the member, and a job whose task was lost carries on from where it stood.

A kind of job (`JobKind`, registered with `job_kind_register` by the app that owns it) names:
- `model`: the job's row, a ShopOwned model with `status` (JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_FAILED),
  `last_member_id` (the cursor, default 0), `error` and `finished_at`;
- `members(shop, job)`: the job's members, a queryset of the shop's Member rows (read again for each chunk, so a
  member who left the audience meanwhile is not touched). It raises JobFailed when the job cannot go on (its
  segment was deleted...);
- `apply(shop, job, member_ids)`: the work on one chunk, in the chunk's transaction. It must be idempotent per
  (job, member): effects carry `job_member_key` (or a key under `job_key_prefix`) in a unique column, so a chunk
  done twice does nothing twice. It returns what to add to the job row's counters ({"issued": 12, ...}). It raises
  an ApplicationError to stop the job (a coupon paused meanwhile): the job fails with that message and keeps what
  was done.

Two ways to run a job:
- in sequence (`parallel=0`): `job_step` does one chunk in one transaction that locks the job row, reads the next
  members after the cursor, applies, adds the counts and moves the cursor, so each member is done once and in id
  order (a limited stock serves the lowest ids first). `job_run` steps to the end (one task: members.tasks.
  member_job_run, or the app's own). A redelivered task (acks_late) carries on from the cursor;
- in parallel (`parallel=n`): `job_start` hands out the next chunks from the cursor, n at a time, each a JobChunk
  row and a task of its own (members.tasks.member_job_chunk, queued after the commit). `job_chunk_run` does one
  chunk in one transaction that locks its JobChunk row and marks it done, and then hands out the next ones; the
  job is done when the cursor has reached the last member and no chunk is pending. The chunks do not lock the job
  row while they work: its counters are added with one UPDATE at the end of each chunk.

`jobs_resume` (beat, every few minutes) hands out again the chunks still pending a LEASE after they were handed
out (their task was lost: a broker restart, a dispatch that never happened), starts the parallel jobs with nothing
in flight, and queues a runner for each unfinished job in sequence (a second runner of a running job is harmless:
the runners take turns on the job row lock).
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.db import models, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from shops.errors import ApplicationError
from shops.models import Shop

from .models import JobChunk, Member

JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_FAILED = "pending", "running", "done", "failed"
FINISHED = (JOB_DONE, JOB_FAILED)
CHUNK = 1_000
LEASE = datetime.timedelta(minutes=15)  # a chunk's task is taken as lost when its chunk is still pending after this


class JobFailed(Exception):
    """The job cannot go on (raised by JobKind.members): it fails with `message`."""

    def __init__(self, message):
        self.message = message
        super().__init__(str(message))


@dataclass(frozen=True)
class JobKind:
    name: str  # unique: stored on JobChunk rows and passed to tasks, e.g. "coupons.grant"
    model: type[models.Model]
    members: Callable[[Shop, models.Model], QuerySet[Member]]
    apply: Callable[[Shop, models.Model, list[int]], dict[str, int] | None]
    chunk: int = CHUNK
    parallel: int = 0  # 0: in sequence (job_step, job_run); n: n chunks in flight (job_start)


job_kinds: dict[str, JobKind] = {}


def job_kind_register(kind: JobKind) -> JobKind:
    """Make `kind` known to the tasks and the sweep (its module registers it when imported). A model is the row of
    one kind only: the sweep reads a kind's unfinished jobs from its model."""
    if kind.name in job_kinds:
        raise ValueError(f"job kind {kind.name!r} is registered twice")
    if other := next((k.name for k in job_kinds.values() if k.model is kind.model), None):
        raise ValueError(f"{kind.model.__name__} is the job row of {other!r} already")
    job_kinds[kind.name] = kind
    return kind


def job_kind(name: str) -> JobKind:
    try:
        return job_kinds[name]
    except KeyError:
        raise LookupError(f"no job kind {name!r}: the module that registers it was not imported") from None


def job_key_prefix(label: str, job_id: int) -> str:
    """The start of the keys of a job's effects, for set-based SQL that appends the member id: "grant#12#"."""
    return f"{label}#{job_id}#"


def job_member_key(label: str, job_id: int, member_id: int) -> str:
    """The idempotency key of what job `job_id` does to one member: "grant#12#3456"."""
    return f"{job_key_prefix(label, job_id)}{member_id}"


def _next_ids(members: QuerySet[Member], *, after: int, limit: int) -> list[int]:
    return list(members.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:limit])


def _finish(job: models.Model, status: str, error: str = "") -> bool:
    max_length = type(job)._meta.get_field("error").max_length
    job.status, job.error, job.finished_at = status, str(error)[:max_length], timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    return True


def _lock(kind: JobKind, shop: Shop, job_id: int) -> models.Model:
    return kind.model.objects.select_for_update().get(shop=shop, pk=job_id)


def job_fail(*, kind: JobKind, shop: Shop, job: models.Model, error: str) -> None:
    """Fail the job with `error` (unless it is already finished), keeping what was done."""
    with transaction.atomic():
        locked = _lock(kind, shop, job.pk)
        if locked.status not in FINISHED:
            _finish(locked, JOB_FAILED, error=error)


# --- In sequence ---------------------------------------------------------------------------------------------------


def job_step(*, kind: JobKind, shop: Shop, job: models.Model, chunk: int | None = None) -> bool:
    """Do the next chunk of the job (`chunk` members, default the kind's) in one transaction under the job row's
    lock, moving the cursor with it. Returns True when the job is finished. Raises what `apply` raises (nothing is
    kept of the chunk then)."""
    with transaction.atomic():
        job = _lock(kind, shop, job.pk)
        if job.status in FINISHED:
            return True
        try:
            members = kind.members(shop, job)
        except JobFailed as exc:
            return _finish(job, JOB_FAILED, error=exc.message)
        ids = _next_ids(members, after=job.last_member_id, limit=chunk or kind.chunk)
        if not ids:
            return _finish(job, JOB_DONE)
        for field, count in (kind.apply(shop, job, ids) or {}).items():
            setattr(job, field, getattr(job, field) + count)
        job.status = JOB_RUNNING
        job.last_member_id = ids[-1]
        job.save()
        return False


def job_run(*, kind: JobKind, shop: Shop, job: models.Model) -> None:
    """Step the job to its end. An ApplicationError from `apply` or `members` (the job's terms changed meanwhile)
    fails the job with its message, keeping the chunks already done."""
    try:
        while not job_step(kind=kind, shop=shop, job=job):
            pass
    except ApplicationError as exc:
        job_fail(kind=kind, shop=shop, job=job, error=str(exc.message))


# --- In parallel ---------------------------------------------------------------------------------------------------


def _dispatch(kind: JobKind, shop: Shop, chunk_ids: list[int]) -> None:
    if not chunk_ids:
        return
    from .tasks import member_job_chunk  # tasks import this module

    def send() -> None:
        for chunk_id in chunk_ids:
            member_job_chunk.delay(kind.name, shop.pk, chunk_id)

    transaction.on_commit(send)


def job_start(*, kind: JobKind, shop: Shop, job: models.Model, now: datetime.datetime | None = None) -> list[int]:
    """Hand out the job's next chunks from the cursor, so that `kind.parallel` are in flight, each queued as a task
    after the commit; finish the job when the cursor has passed its last member and no chunk is pending. Returns
    the ids of the chunks handed out. Safe to call any time (each chunk calls it when done). Raises an
    ApplicationError from `members`."""
    assert kind.parallel > 0, f"{kind.name} runs in sequence: job_run"
    now = now or timezone.now()
    with transaction.atomic():
        job = _lock(kind, shop, job.pk)
        if job.status in FINISHED:
            return []
        pending = JobChunk.objects.filter(shop=shop, kind=kind.name, job_id=job.pk, done=False).count()
        try:
            members = kind.members(shop, job)
        except JobFailed as exc:
            _finish(job, JOB_FAILED, error=exc.message)
            return []
        chunks = []
        while pending + len(chunks) < kind.parallel:
            ids = _next_ids(members, after=job.last_member_id, limit=kind.chunk)
            if not ids:
                break
            after, job.last_member_id = job.last_member_id, ids[-1]
            chunks.append(
                JobChunk(shop=shop, kind=kind.name, job_id=job.pk, after_id=after, upto_id=ids[-1], dispatched_at=now)
            )
        if not chunks:
            if not pending:
                _finish(job, JOB_DONE)
            return []
        JobChunk.objects.bulk_create(chunks)
        job.status = JOB_RUNNING
        job.save(update_fields=["status", "last_member_id"])
        chunk_ids = [c.pk for c in chunks]
        _dispatch(kind, shop, chunk_ids)
        return chunk_ids


def job_chunk_run(*, kind: JobKind, shop: Shop, chunk_id: int) -> bool:
    """Do one handed-out chunk, once: its members still in the job's audience with ids in (after_id, upto_id], in
    one transaction that marks the chunk done and adds the counts to the job row; then hand out what comes next.
    Returns False when the chunk was done already or its job is finished. An ApplicationError from `apply` or
    `members` (the job's terms changed meanwhile) fails the job, keeping the chunks already done."""
    chunk = JobChunk.objects.get(shop=shop, kind=kind.name, pk=chunk_id)
    job = kind.model.objects.get(shop=shop, pk=chunk.job_id)
    try:
        if not _chunk_do(kind, shop, chunk_id, job):
            return False
        job_start(kind=kind, shop=shop, job=job)
    except ApplicationError as exc:
        job_fail(kind=kind, shop=shop, job=job, error=str(exc.message))
        return False
    return True


def _chunk_do(kind: JobKind, shop: Shop, chunk_id: int, job: models.Model) -> bool:
    with transaction.atomic():
        chunk = JobChunk.objects.select_for_update().get(shop=shop, pk=chunk_id)
        job.refresh_from_db(fields=["status"])
        if chunk.done or job.status in FINISHED:
            return False
        try:
            members = kind.members(shop, job)
        except JobFailed as exc:
            _finish(_lock(kind, shop, job.pk), JOB_FAILED, error=exc.message)
            return False
        ids = list(
            members.filter(pk__gt=chunk.after_id, pk__lte=chunk.upto_id).order_by("pk").values_list("pk", flat=True)
        )
        counts = (kind.apply(shop, job, ids) if ids else None) or {}
        chunk.done, chunk.done_at = True, timezone.now()
        chunk.save(update_fields=["done", "done_at"])
        if counts:
            kind.model.objects.filter(shop=shop, pk=job.pk).update(**{f: F(f) + n for f, n in counts.items()})
        return True


def job_get(*, kind: JobKind, shop: Shop, pk: int) -> models.Model:
    return kind.model.objects.get(shop=shop, pk=pk)


# --- The sweep -----------------------------------------------------------------------------------------------------


def jobs_resume(*, shop: Shop, now: datetime.datetime | None = None) -> int:
    """Carry on the shop's unfinished jobs of every registered kind whose task was lost (see the module docstring).
    Returns how many tasks were queued."""
    from .tasks import member_job_run  # tasks import this module

    now = now or timezone.now()
    queued = 0
    for kind in job_kinds.values():
        unfinished = kind.model.objects.filter(shop=shop, status__in=[JOB_PENDING, JOB_RUNNING])
        if not kind.parallel:
            job_ids = list(unfinished.values_list("pk", flat=True))
            transaction.on_commit(lambda kind=kind, job_ids=job_ids: _run_later(member_job_run, kind, shop, job_ids))
            queued += len(job_ids)
            continue
        with transaction.atomic():
            stale = list(
                JobChunk.objects.select_for_update(skip_locked=True)
                .filter(shop=shop, kind=kind.name, done=False, dispatched_at__lt=now - LEASE)
                .filter(job_id__in=unfinished.values("pk"))
                .values_list("pk", flat=True)
            )
            JobChunk.objects.filter(shop=shop, pk__in=stale).update(dispatched_at=now, dispatches=F("dispatches") + 1)
            _dispatch(kind, shop, stale)
        queued += len(stale)
        in_flight = JobChunk.objects.filter(shop=shop, kind=kind.name, done=False).values("job_id")
        for job in unfinished.exclude(pk__in=in_flight):
            try:
                queued += len(job_start(kind=kind, shop=shop, job=job, now=now))
            except ApplicationError as exc:
                job_fail(kind=kind, shop=shop, job=job, error=str(exc.message))
    return queued


def _run_later(task, kind: JobKind, shop: Shop, job_ids: list[int]) -> None:
    for job_id in job_ids:
        task.delay(kind.name, shop.pk, job_id)
