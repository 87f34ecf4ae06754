"""An import job whose process died is failed with a reason (members.imports.stale), by beat and whenever the imports
page is read, instead of showing "running" for ever. The rows it wrote stay; live jobs and other shops' jobs are
left alone."""

import csv
import io
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django_scopes import scopes_disabled

from members import tasks
from members.imports import engine
from members.imports.engine import import_create, import_process
from members.models import ImportJob, ImportKind, ImportStatus, Member
from shops.models import Shop
from shops.services import SYSTEM
from shops.tenancy import shop_scope

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.members.test_imports")]

STOPPED = (
    "The import stopped without finishing: its process showed no progress for 10 minutes. The rows counted as "
    "processed were imported: upload the file again to import the rest (rows imported already count as duplicates)."
)
STOPPED_ZH = (
    "导入未完成即中断：处理进程已有 10 分钟没有进展。"  # noqa: RUF001 (Chinese punctuation)
    "已处理的行均已导入，请重新上传文件以导入剩余数据（已导入的行将计为重复）。"
)
NEVER_STARTED = "The import never started: no worker took it up within 60 minutes. Upload the file again."


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def shop(shop):
    """Reasons are written in the shop's language: English here, so the tests read the msgids."""
    Shop.objects.filter(pk=shop.pk).update(locale="en")
    shop.refresh_from_db()
    return shop


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0)


def upload(shop: Shop, count: int, first: int = 0) -> ImportJob:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["手机号"], *([f"138{n:08d}"] for n in range(first, first + count))])
    content = ContentFile(buffer.getvalue().encode(), name="m.csv")
    return import_create(shop=shop, kind=ImportKind.MEMBERS, upload=content, actor=SYSTEM, dispatch=False)


def died_after_a_chunk(shop: Shop, monkeypatch, first: int = 0) -> ImportJob:
    """A job of 5 new members whose process died (nothing the job could catch) while it wrote its second chunk of
    2."""
    monkeypatch.setattr(engine, "CHUNK_SIZE", 2)
    job = upload(shop, 5, first)
    write, calls = engine._import_chunk, []

    def dying(**kwargs):
        calls.append(kwargs["offset"])
        if len(calls) == 2:
            raise SystemExit("process killed")
        return write(**kwargs)

    monkeypatch.setattr(engine, "_import_chunk", dying)
    with shop_scope(shop), pytest.raises(SystemExit):
        import_process(shop=shop, job_id=job.pk)
    monkeypatch.setattr(engine, "_import_chunk", write)
    return job


def state(job: ImportJob) -> tuple:
    with scopes_disabled():
        return ImportJob.objects.values_list(
            "status", "message", "total_rows", "processed_rows", "created_rows", "error_rows"
        ).get(pk=job.pk)


RUNNING_AFTER_A_CHUNK = (ImportStatus.RUNNING, "", 5, 2, 2, 0)


def read_page(client, shop: Shop) -> str:
    response = client.get(reverse("dashboard:imports", args=[shop.slug]))
    assert response.status_code == 200
    return response.content.decode()


def test_reading_the_imports_page_fails_a_job_whose_process_died_and_shows_the_reason(
    owner_client, shop, monkeypatch, t0
):
    # given: a job whose process died at t0 after its first chunk, and one still alive 9 minutes later
    owner_client.cookies["django_language"] = "en"
    with time_machine.travel(t0, tick=False):
        dead = died_after_a_chunk(shop, monkeypatch)
    with time_machine.travel(t0 + timedelta(minutes=9), tick=False):
        live = died_after_a_chunk(shop, monkeypatch, first=100)
    # when: 10 minutes pass without news of the first
    with time_machine.travel(t0 + timedelta(minutes=10), tick=False):
        read_page(owner_client, shop)
        assert state(dead) == RUNNING_AFTER_A_CHUNK  # 10 minutes is not more than 10
    with time_machine.travel(t0 + timedelta(minutes=10, seconds=1), tick=False):
        html = read_page(owner_client, shop)
    # then: failed with the reason, its rows kept and counted; the live job goes on
    assert state(dead) == (ImportStatus.FAILED, STOPPED, 5, 2, 2, 0)
    assert ImportJob.objects.get(pk=dead.pk).finished_at == t0 + timedelta(minutes=10, seconds=1)
    assert STOPPED in html
    assert state(live) == RUNNING_AFTER_A_CHUNK
    assert Member.objects.filter(shop=shop).count() == 4
    assert "js/reload.js" in html  # the live job is still followed


def test_a_failed_job_stays_failed_when_its_task_is_delivered_again(owner_client, shop, monkeypatch, t0):
    with time_machine.travel(t0, tick=False):
        job = died_after_a_chunk(shop, monkeypatch)
    with time_machine.travel(t0 + timedelta(minutes=11), tick=False):
        read_page(owner_client, shop)
        tasks.import_run(job.pk)  # the broker delivers the dead worker's task again
    assert state(job) == (ImportStatus.FAILED, STOPPED, 5, 2, 2, 0)
    assert Member.objects.filter(shop=shop).count() == 2


def test_a_job_that_never_started_is_failed_after_an_hour(owner_client, shop, t0):
    with time_machine.travel(t0, tick=False):
        job = upload(shop, 3)
    with time_machine.travel(t0 + timedelta(minutes=59), tick=False):
        read_page(owner_client, shop)
        assert state(job)[0] == ImportStatus.PENDING
    with time_machine.travel(t0 + timedelta(minutes=61), tick=False):
        read_page(owner_client, shop)
    assert state(job) == (ImportStatus.FAILED, NEVER_STARTED, 0, 0, 0, 0)


def test_each_shop_fails_its_own_jobs_in_its_own_language(owner_client, shop, other_shop, monkeypatch, t0):
    # given: a dead job in each shop; the other shop works in Chinese
    with time_machine.travel(t0, tick=False):
        ours = died_after_a_chunk(shop, monkeypatch)
        theirs = died_after_a_chunk(other_shop, monkeypatch)
    later = t0 + timedelta(minutes=11)
    # when: our page is read
    with time_machine.travel(later, tick=False):
        read_page(owner_client, shop)
    # then: only our job is failed
    assert state(ours)[:2] == (ImportStatus.FAILED, STOPPED)
    assert state(theirs) == RUNNING_AFTER_A_CHUNK
    # when: beat runs
    with time_machine.travel(later, tick=False):
        assert tasks.imports_fail_stale_all_shops() == 1
        assert tasks.imports_fail_stale_all_shops() == 0  # nothing left to do
    # then: theirs is failed, in their language, its rows kept
    assert state(theirs) == (ImportStatus.FAILED, STOPPED_ZH, 5, 2, 2, 0)
    with scopes_disabled():
        assert Member.objects.filter(shop=other_shop).count() == 2


def test_beat_runs_the_check_every_5_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["imports-fail-stale"]
    assert import_string(entry["task"]) is tasks.imports_fail_stale_all_shops
    assert entry["schedule"].minute == set(range(0, 60, 5))


def test_a_job_longer_than_the_limit_that_keeps_progressing_is_never_failed(shop, monkeypatch, t0):
    # given: a file of 14 rows whose reading takes a minute a row and whose 7 chunks take 6 minutes each, while the
    # check runs at every step
    from members.imports.stale import imports_fail_stale  # here: the module came with the fix

    monkeypatch.setattr(engine, "CHUNK_SIZE", 2)
    monkeypatch.setattr(engine, "HEARTBEAT_SECONDS", 0)
    read, write = engine.read_table, engine._import_chunk
    with time_machine.travel(t0, tick=False) as clock:

        def check_after(minutes: int) -> None:
            clock.shift(timedelta(minutes=minutes))
            assert imports_fail_stale(shop=shop) == 0

        def slow_read(**kwargs):
            beat = kwargs["on_progress"]

            def slow_beat():
                check_after(1)
                beat()

            return read(**{**kwargs, "on_progress": slow_beat})

        def slow_write(**kwargs):
            check_after(6)
            return write(**kwargs)

        monkeypatch.setattr(engine, "read_table", slow_read)
        monkeypatch.setattr(engine, "_import_chunk", slow_write)
        job = upload(shop, 14)
        # when
        job = import_process(shop=shop, job_id=job.pk)
        # then
        assert timezone.now() - t0 > timedelta(minutes=30)
    assert (job.status, job.processed_rows, job.created_rows) == (ImportStatus.DONE, 14, 14)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_chunk_that_commits_while_the_check_waits_keeps_its_job_alive(shop, monkeypatch, t0):
    from members.imports.stale import imports_fail_stale  # here: the module came with the fix

    # given: a job silent for 11 minutes, whose process is writing a chunk right now (it holds the job's row)
    with time_machine.travel(t0, tick=False):
        job = died_after_a_chunk(shop, monkeypatch)
    locked, release, outcome = threading.Event(), threading.Event(), []

    def chunk():
        with shop_scope(shop), transaction.atomic():
            ImportJob.objects.select_for_update().filter(pk=job.pk).get()
            locked.set()
            release.wait(10)
            ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
        connection.close()

    def check():
        with shop_scope(shop):
            outcome.append(imports_fail_stale(shop=shop))
        connection.close()

    with time_machine.travel(t0 + timedelta(minutes=11), tick=False):
        writer = threading.Thread(target=chunk)
        writer.start()
        assert locked.wait(10)
        checker = threading.Thread(target=check)
        checker.start()
        # when: the check waits for the row, then the chunk commits
        _wait_for_a_lock_wait()
        release.set()
        writer.join(10)
        checker.join(10)
    # then: the check saw the fresh heartbeat
    assert outcome == [0]
    assert state(job) == RUNNING_AFTER_A_CHUNK


def _wait_for_a_lock_wait() -> None:
    with connection.cursor() as cursor:
        for _attempt in range(100):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the check never waited for the chunk's lock")
