"""Import jobs whose process died: failed with a reason instead of showing "running" for ever.

A job records a heartbeat when it starts, as it reads its file and with every chunk it writes (members.imports.engine).
When its process dies (a worker killed, or a web process that ran the task in-process), nothing fails the job:
these functions do, from beat (members.tasks) and whenever the imports page is read. The rows written stay as they
are: each chunk committed with the job's progress. A process that was only slow finds its job failed at its next
chunk and writes nothing more (members.imports.engine._import_chunk), so the counters stay true.
"""

import datetime

from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from shops.models import Shop
from shops.tenancy import all_shops

from ..models import ImportJob, ImportStatus

# Far longer than a live job goes without a heartbeat (reading beats every 30 s, a chunk takes seconds).
STALE_RUNNING_AFTER = datetime.timedelta(minutes=10)
# A job may wait for a worker while other files import: an hour is far beyond such a queue.
STALE_PENDING_AFTER = datetime.timedelta(minutes=60)


def _stale(now: datetime.datetime) -> tuple[Q, Q]:
    """The conditions of a running and of a pending job whose process is presumed dead."""
    silent = now - STALE_RUNNING_AFTER
    running = Q(status=ImportStatus.RUNNING) & (
        Q(heartbeat_at__lt=silent) | Q(heartbeat_at__isnull=True, created_at__lt=silent)  # jobs from before heartbeats
    )
    pending = Q(status=ImportStatus.PENDING, created_at__lt=now - STALE_PENDING_AFTER)
    return running, pending


def imports_fail_stale(*, shop: Shop, now: datetime.datetime | None = None) -> int:
    """Fail the shop's import jobs whose process died: running with no heartbeat for STALE_RUNNING_AFTER, or never
    started within STALE_PENDING_AFTER. The reason is written in the shop's language. Returns how many were failed.

    Each job changes in one conditional UPDATE: a chunk that commits meanwhile holds the job's row, and the UPDATE
    then sees its fresh heartbeat and leaves the job alone."""
    now = now or timezone.now()
    running, pending = _stale(now)
    jobs = ImportJob.objects.filter(shop=shop)
    with translation.override(shop.locale):
        stopped = _(
            "The import stopped without finishing: its process showed no progress for %(minutes)s minutes. The "
            "rows counted as processed were imported: upload the file again to import the rest (rows imported "
            "already count as duplicates)."
        ) % {"minutes": int(STALE_RUNNING_AFTER.total_seconds() // 60)}
        never_started = _(
            "The import never started: no worker took it up within %(minutes)s minutes. Upload the file again."
        ) % {"minutes": int(STALE_PENDING_AFTER.total_seconds() // 60)}
    failed = jobs.filter(running).update(status=ImportStatus.FAILED, message=stopped, finished_at=now)
    return failed + jobs.filter(pending).update(status=ImportStatus.FAILED, message=never_started, finished_at=now)


def import_stale_shop_ids_all_shops(*, now: datetime.datetime | None = None) -> list[int]:
    """The shops that have an import job to fail, for beat to handle each in its own scope and language."""
    running, pending = _stale(now or timezone.now())
    # Cross-shop by nature: finding the shops comes before entering any one of them.
    with all_shops():
        stale = ImportJob.objects.filter(running | pending).order_by()
        return list(stale.values_list("shop_id", flat=True).distinct())
