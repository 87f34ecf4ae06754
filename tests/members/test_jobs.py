"""Chunked jobs over members (members.jobs), on a job of their own (tests/jobapp): keyset chunks from the cursor,
each member done once whatever runs twice, in sequence and in parallel chunk tasks, a failure that keeps what was
done, and the sweep that carries on a job whose task was lost. coupons.grants is the production user (its own tests
cover it)."""

import datetime
import threading

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from config.celery import app as celery_app
from members.jobs import (
    LEASE,
    JobFailed,
    JobKind,
    job_chunk_run,
    job_key_prefix,
    job_kind,
    job_kind_register,
    job_member_key,
    job_run,
    job_start,
    job_step,
    jobs_resume,
)
from members.models import JobChunk, Member
from members.services import Enrolment, member_enroll
from members.tasks import member_jobs_resume_all_shops
from shops.errors import ApplicationError
from shops.tenancy import shop_scope
from tests.jobapp.models import ParallelJob, SampleJob, SampleMark, SlowJob

pytestmark = pytest.mark.django_db


class Refused(ApplicationError):
    code = "refused"


STOP_AT: set[int] = set()  # member ids whose chunk raises Refused (the job's terms changed meanwhile)


@pytest.fixture(autouse=True)
def _nothing_refused():
    STOP_AT.clear()


def _members(shop, job) -> QuerySet[Member]:
    if job.region == "gone":
        raise JobFailed("The audience is gone.")
    members = Member.objects.filter(shop=shop)
    return members.filter(region=job.region) if job.region else members


def _mark(shop, job, member_ids: list[int]) -> dict[str, int]:
    if STOP_AT & set(member_ids):
        raise Refused("No more marks.")
    label = type(job).__name__
    marks = [SampleMark(shop=shop, member_id=m, key=job_member_key(label, job.pk, m)) for m in member_ids]
    held = SampleMark.objects.filter(shop=shop, key__in=[m.key for m in marks])
    before = held.count()
    SampleMark.objects.bulk_create(marks, ignore_conflicts=True)
    return {"members_done": len(member_ids), "marked": held.count() - before}


IN_SEQUENCE = job_kind_register(JobKind(name="tests.sequence", model=SampleJob, members=_members, apply=_mark, chunk=2))
IN_PARALLEL = job_kind_register(
    JobKind(name="tests.parallel", model=ParallelJob, members=_members, apply=_mark, chunk=2, parallel=2)
)


def enrol(shop, n: int, region: str = "上海市") -> Member:
    return member_enroll(shop=shop, data=Enrolment(phone=f"1390013{n:04d}", region=region))[0]


def marked(job) -> list[int]:
    prefix = job_key_prefix(type(job).__name__, job.pk)
    return sorted(SampleMark.objects.filter(key__startswith=prefix).values_list("member_id", flat=True))


def figures(job) -> tuple:
    job.refresh_from_db()
    return job.status, job.members_done, job.marked


def test_keys_name_the_job_and_the_member():
    assert job_key_prefix("grant", 12) == "grant#12#"
    assert job_member_key("grant", 12, 3456) == "grant#12#3456"


def test_a_kind_is_found_by_name_and_registered_once():
    assert job_kind("tests.sequence") is IN_SEQUENCE
    with pytest.raises(ValueError, match="twice"):
        job_kind_register(JobKind(name="tests.sequence", model=SlowJob, members=_members, apply=_mark))
    with pytest.raises(ValueError, match="SampleJob is the job row of 'tests.sequence'"):
        job_kind_register(JobKind(name="tests.other", model=SampleJob, members=_members, apply=_mark))
    with pytest.raises(LookupError, match="tests.nothing"):
        job_kind("tests.nothing")


def test_in_sequence_each_step_is_one_chunk_from_the_cursor_in_id_order(shop, other_shop):
    members = [enrol(shop, i) for i in range(5)]
    enrol(shop, 99, region="北京市")  # outside the job's audience
    foreign = enrol(other_shop, 1)
    job = SampleJob.objects.create(shop=shop, region="上海市")

    assert job_step(kind=IN_SEQUENCE, shop=shop, job=job) is False
    assert figures(job) == ("running", 2, 2)
    assert job.last_member_id == members[1].pk
    assert job_step(kind=IN_SEQUENCE, shop=shop, job=job, chunk=3) is False
    assert job_step(kind=IN_SEQUENCE, shop=shop, job=job) is True  # nothing after the cursor: done

    assert figures(job) == ("done", 5, 5)
    assert job.finished_at is not None
    assert marked(job) == [m.pk for m in members]
    assert not SampleMark.objects.filter(member=foreign).exists()
    assert job_step(kind=IN_SEQUENCE, shop=shop, job=job) is True  # a finished job stays as it is
    assert figures(job) == ("done", 5, 5)


def test_a_chunk_done_again_from_a_stale_cursor_marks_no_one_twice(shop):
    members = [enrol(shop, i) for i in range(3)]
    job = SampleJob.objects.create(shop=shop)
    job_step(kind=IN_SEQUENCE, shop=shop, job=job)

    SampleJob.objects.filter(pk=job.pk).update(last_member_id=0)  # a task redelivered with an old start
    job_run(kind=IN_SEQUENCE, shop=shop, job=job)

    assert figures(job) == ("done", 5, 3)  # two members seen twice, each marked once
    assert SampleMark.objects.count() == 3
    assert marked(job) == [m.pk for m in members]


def test_a_job_whose_audience_is_gone_fails_with_the_reason(shop):
    enrol(shop, 1)
    job = SampleJob.objects.create(shop=shop, region="gone")
    assert job_step(kind=IN_SEQUENCE, shop=shop, job=job) is True
    job.refresh_from_db()
    assert (job.status, job.error, job.members_done) == ("failed", "The audience is gone.", 0)


def test_an_application_error_fails_the_job_and_keeps_the_chunks_done(shop):
    members = [enrol(shop, i) for i in range(5)]
    STOP_AT.add(members[3].pk)  # the second chunk (members 2 and 3) is refused
    job = SampleJob.objects.create(shop=shop)

    job_run(kind=IN_SEQUENCE, shop=shop, job=job)

    job.refresh_from_db()
    assert (job.status, job.error, job.members_done, job.last_member_id) == (
        "failed",
        "No more marks.",
        2,
        members[1].pk,
    )
    assert marked(job) == [m.pk for m in members[:2]]  # nothing kept of the refused chunk


def test_in_parallel_chunks_are_handed_out_two_at_a_time_each_as_a_task_after_the_commit(
    shop, django_capture_on_commit_callbacks
):
    members = [enrol(shop, i) for i in range(7)]
    job = ParallelJob.objects.create(shop=shop)

    with django_capture_on_commit_callbacks() as callbacks:
        handed = job_start(kind=IN_PARALLEL, shop=shop, job=job)

    chunks = list(JobChunk.objects.filter(shop=shop, job_id=job.pk).order_by("after_id"))
    assert [c.pk for c in chunks] == handed
    assert [(c.after_id, c.upto_id, c.done) for c in chunks] == [
        (0, members[1].pk, False),
        (members[1].pk, members[3].pk, False),
    ]
    job.refresh_from_db()
    assert (job.status, job.last_member_id, job.members_done) == ("running", members[3].pk, 0)
    assert len(callbacks) == 1  # the tasks leave after the commit
    # handed out again while two are in flight: nothing more
    assert job_start(kind=IN_PARALLEL, shop=shop, job=job) == []


def test_in_parallel_the_job_runs_to_the_end_through_its_chunk_tasks(
    shop, other_shop, django_capture_on_commit_callbacks
):
    members = [enrol(shop, i) for i in range(7)]
    foreign = enrol(other_shop, 1)
    job = ParallelJob.objects.create(shop=shop)

    with django_capture_on_commit_callbacks(execute=True):
        job_start(kind=IN_PARALLEL, shop=shop, job=job)

    assert figures(job) == ("done", 7, 7)
    assert marked(job) == [m.pk for m in members]
    assert JobChunk.objects.filter(shop=shop, job_id=job.pk).count() == 4  # 2 + 2 + 2 + 1 members
    assert not JobChunk.objects.filter(shop=shop, job_id=job.pk, done=False).exists()
    assert not SampleMark.objects.filter(member=foreign).exists()


def test_a_chunk_run_twice_marks_and_counts_once(shop, django_capture_on_commit_callbacks):
    members = [enrol(shop, i) for i in range(3)]
    job = ParallelJob.objects.create(shop=shop)
    with django_capture_on_commit_callbacks():
        first, _second = job_start(kind=IN_PARALLEL, shop=shop, job=job)

    assert job_chunk_run(kind=IN_PARALLEL, shop=shop, chunk_id=first) is True
    assert job_chunk_run(kind=IN_PARALLEL, shop=shop, chunk_id=first) is False  # a redelivered task

    job.refresh_from_db()
    assert (job.members_done, job.marked) == (2, 2)
    assert marked(job) == [m.pk for m in members[:2]]


def test_a_member_who_left_the_audience_before_the_chunk_ran_is_left_out(shop, django_capture_on_commit_callbacks):
    members = [enrol(shop, i) for i in range(2)]
    job = ParallelJob.objects.create(shop=shop, region="上海市")
    with django_capture_on_commit_callbacks():
        [chunk] = job_start(kind=IN_PARALLEL, shop=shop, job=job)
    Member.objects.filter(pk=members[0].pk).update(region="北京市")

    job_chunk_run(kind=IN_PARALLEL, shop=shop, chunk_id=chunk)

    assert marked(job) == [members[1].pk]


def test_in_parallel_an_application_error_fails_the_job_and_its_other_chunks_do_nothing(
    shop, django_capture_on_commit_callbacks
):
    members = [enrol(shop, i) for i in range(4)]
    job = ParallelJob.objects.create(shop=shop)
    with django_capture_on_commit_callbacks():
        first, second = job_start(kind=IN_PARALLEL, shop=shop, job=job)
    STOP_AT.add(members[0].pk)

    assert job_chunk_run(kind=IN_PARALLEL, shop=shop, chunk_id=first) is False
    STOP_AT.clear()
    assert job_chunk_run(kind=IN_PARALLEL, shop=shop, chunk_id=second) is False

    job.refresh_from_db()
    assert (job.status, job.error, job.members_done) == ("failed", "No more marks.", 0)
    assert marked(job) == []


def test_the_sweep_hands_out_again_a_chunk_whose_task_was_lost_once_its_lease_is_over(
    shop, django_capture_on_commit_callbacks
):
    members = [enrol(shop, i) for i in range(3)]
    job = ParallelJob.objects.create(shop=shop)
    with django_capture_on_commit_callbacks():  # the tasks are queued, then lost: never run
        lost = job_start(kind=IN_PARALLEL, shop=shop, job=job)

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_resume(shop=shop, now=timezone.now() + LEASE - datetime.timedelta(seconds=5)) == 0
    assert figures(job) == ("running", 0, 0)

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_resume(shop=shop, now=timezone.now() + LEASE + datetime.timedelta(seconds=5)) == len(lost)

    assert figures(job) == ("done", 3, 3)
    assert marked(job) == [m.pk for m in members]
    assert sorted(JobChunk.objects.filter(pk__in=lost).values_list("dispatches", flat=True)) == [2, 2]


def test_the_sweep_starts_a_parallel_job_whose_start_was_lost_and_resumes_one_in_sequence(
    shop, django_capture_on_commit_callbacks
):
    members = [enrol(shop, i) for i in range(3)]
    parallel = ParallelJob.objects.create(shop=shop)  # created, its first dispatch never happened
    in_sequence = SampleJob.objects.create(shop=shop)
    job_step(kind=IN_SEQUENCE, shop=shop, job=in_sequence)  # a chunk done, then the runner died

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_resume(shop=shop) == 1 + 2  # the runner, two chunks

    for job in (parallel, in_sequence):
        assert figures(job) == ("done", 3, 3)
        assert marked(job) == [m.pk for m in members]


def test_the_beat_task_carries_on_every_shops_jobs(shop, other_shop, django_capture_on_commit_callbacks):
    enrol(shop, 1)
    enrol(other_shop, 2)
    jobs = [SampleJob.objects.create(shop=s) for s in (shop, other_shop)]

    with django_capture_on_commit_callbacks(execute=True):
        assert member_jobs_resume_all_shops() == 2  # one task per shop

    for job in jobs:
        assert figures(job) == ("done", 1, 1)


ENTERED, RELEASE = threading.Event(), threading.Event()
SLOW_AT: set[int] = set()


def _mark_slowly(shop, job, member_ids: list[int]) -> dict[str, int]:
    if SLOW_AT & set(member_ids):
        ENTERED.set()
        RELEASE.wait(10)
    return _mark(shop, job, member_ids)


SLOW = job_kind_register(
    JobKind(name="tests.slow", model=SlowJob, members=_members, apply=_mark_slowly, chunk=2, parallel=2)
)


@pytest.fixture
def tasks_queued_not_run():
    """Chunk tasks go to the in-memory broker, which no worker reads: the test runs the chunks itself."""
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_chunks_of_a_job_run_at_the_same_time_without_waiting_for_each_other(shop, tasks_queued_not_run):
    members = [enrol(shop, i) for i in range(4)]
    job = SlowJob.objects.create(shop=shop)
    first, second = job_start(kind=SLOW, shop=shop, job=job)
    SLOW_AT.add(members[0].pk)
    ENTERED.clear()
    RELEASE.clear()
    done = {}

    def chunk(chunk_id):
        def run():
            try:
                with shop_scope(shop):
                    done[chunk_id] = job_chunk_run(kind=SLOW, shop=shop, chunk_id=chunk_id)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    try:
        # given: the first chunk is at work, its transaction open
        slow = chunk(first)
        assert ENTERED.wait(10)
        # when: the second one runs meanwhile, then it finishes without waiting for the first
        chunk(second).join(10)
        assert done == {second: True}
        assert figures(job) == ("running", 2, 2)
    finally:
        RELEASE.set()
        SLOW_AT.clear()
    slow.join(10)

    # then: the first one ends the job
    assert done == {second: True, first: True}
    assert figures(job) == ("done", 4, 4)
    assert marked(job) == [m.pk for m in members]
