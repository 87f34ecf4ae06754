"""The import engine: a job's life cycle, from the uploaded file to its row-by-row report, for every kind of import.

Files are read within bounds of size, rows, columns and time by members.imports.files; each kind (an
ImportKindHandler, members.imports.kind) says which columns it reads, how its rows become units of work and how a
chunk of units is written. The members kind is members.imports.members_kind; kinds that write into apps above
members (orders.imports) plug in through the extension point IMPORT_HANDLER.

Invariants: a file-level problem (not CSV/XLSX, undecodable, empty, required columns missing, over a bound of
members.imports.files) fails the job before anything is written. Otherwise every data row is counted once, as
created, duplicate or error (processed = created + duplicates + errors), and every error names its row and reason.
Each chunk's writes commit in one transaction with the job's progress, so a re-run of the job (a lost worker, a
duplicate delivery) resumes after the last committed chunk, and importing the same file again creates nothing.
"""

import csv
import datetime
import io
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import PurePath
from time import monotonic

from django.core.files import File
from django.db import connection, transaction
from django.db.models import F, JSONField, QuerySet, Value
from django.db.models.expressions import CombinedExpression
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from shops.extensions import IMPORT_HANDLER, by_key
from shops.models import Shop
from shops.services import Actor, audit_record
from shops.tenancy import all_shops

from ..errors import ImportFileError
from ..models import ImportJob, ImportKind, ImportStatus
from .files import MAX_FILE_BYTES, import_file_check, read_table
from .kind import ImportKindHandler, Unit
from .members_kind import MEMBER_IMPORT

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000  # rows (or units of rows) per transaction; a kind may ask for less
HEARTBEAT_SECONDS = 30  # while a file is read, how often the job records that its process is alive


def import_handler(kind: str) -> ImportKindHandler:
    """The handler of an ImportKind. Kinds that write into apps above members (orders) are registered by those apps
    for the extension point IMPORT_HANDLER (shops.extensions), so that members imports no higher app. Raises
    ImportFileError."""
    if kind == ImportKind.MEMBERS:
        return MEMBER_IMPORT
    handler = by_key(IMPORT_HANDLER).get(kind)
    if kind not in ImportKind.values or handler is None:
        raise ImportFileError(_("Choose what the file holds: members or orders."))
    return handler


@transaction.atomic
def _import_chunk(
    *, shop: Shop, job: ImportJob, handler: ImportKindHandler, units: list[Unit], offset: int, errors: list[dict]
) -> bool:
    """Write one chunk and the job's progress in one transaction. False (and nothing written) when the job is no
    longer running at `offset`: another run of the same job got there first."""
    jobs = ImportJob.objects.filter(shop=shop, pk=job.pk)
    progress = jobs.select_for_update().values_list("status", "processed_rows").first()
    if progress != (ImportStatus.RUNNING, offset):
        return False
    result = handler.write(shop=shop, units=units)
    changes = {
        "processed_rows": F("processed_rows") + sum(len(unit.rows) for unit in units),
        "created_rows": F("created_rows") + result.created,
        "duplicate_rows": F("duplicate_rows") + result.duplicates,
        "error_rows": F("error_rows") + len(result.errors),
        "heartbeat_at": timezone.now(),
    }
    new_errors = sorted(result.errors, key=lambda e: e["row"])
    if new_errors and connection.vendor == "postgresql":
        # Appended in the database: rewriting the whole report at every chunk costs the square of its length.
        changes["errors"] = CombinedExpression(F("errors"), "||", Value(new_errors, JSONField()), JSONField())
    elif new_errors:
        changes["errors"] = errors + new_errors
    jobs.update(**changes)
    errors += new_errors
    return True


# --- The job -----------------------------------------------------------------------------------------------------


@transaction.atomic
def import_create(*, shop: Shop, kind: str, upload: File, actor: Actor, dispatch: bool = True) -> ImportJob:
    """Store an uploaded file as a pending import job and, with `dispatch`, queue its processing after commit.

    Raises ImportFileError for a file that is not CSV/XLSX, empty, over the size limit or a workbook that would
    unpack to too much (nothing is stored)."""
    import_handler(kind)
    name = PurePath(upload.name or "").name
    extension = import_file_check(name=name, size=upload.size, handle=upload)
    job = ImportJob(shop=shop, kind=kind, original_name=name[:255], created_by=actor.user)
    # The stored name carries the shop id (CONVENTIONS section 2); the merchant's own name stays in original_name.
    job.file.save(f"shop{shop.pk}-{uuid.uuid4().hex}{extension}", upload, save=False)
    job.save()
    audit_record(shop=shop, actor=actor, action="import.create", obj=job)
    if dispatch:
        from ..tasks import import_run  # the task module imports this one

        transaction.on_commit(lambda: import_run.delay(job.pk))
    return job


def _parse(
    *, shop: Shop, job: ImportJob, handler: ImportKindHandler, now: datetime.datetime
) -> tuple[list[Unit], list[str]]:
    """The job's file as units of work, and the names of the columns it ignores. Raises ImportFileError."""
    try:
        with job.file.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        raise ImportFileError(_("The uploaded file is no longer available: upload it again.")) from None
    table, columns = read_table(
        name=job.original_name,
        data=data,
        columns=handler.columns,
        required=handler.required,
        on_progress=_heartbeat(ImportJob.objects.filter(shop=shop, pk=job.pk)),
    )
    return handler.units(table=table, columns=columns, shop=shop, now=now), columns.ignored


def _heartbeat(jobs: QuerySet[ImportJob]) -> Callable[[], None]:
    """A callable that records, at most every HEARTBEAT_SECONDS, that the job's process is alive: reading a large
    file takes minutes, and members.imports.stale fails the jobs whose process shows no life."""
    last = monotonic()

    def beat() -> None:
        nonlocal last
        if monotonic() - last >= HEARTBEAT_SECONDS:
            last = monotonic()
            jobs.filter(status=ImportStatus.RUNNING).update(heartbeat_at=timezone.now())

    return beat


def _chunks(units: list[Unit], size: int) -> Iterator[list[Unit]]:
    for start in range(0, len(units), size):
        yield units[start : start + size]


def import_process(*, shop: Shop, job_id: int) -> ImportJob:
    """Run the import job `job_id` of `shop` in chunks, or resume it after its last committed chunk.

    Safe to call again: a finished job is returned unchanged, and a concurrent run of the same job stops at the
    first chunk the other run has written. A file-level problem fails the job with a message and writes nothing.
    Raises ImportJob.DoesNotExist; an unexpected error fails the job (keeping the chunks written) and is re-raised.
    """
    jobs = ImportJob.objects.filter(shop=shop, pk=job_id)
    job = jobs.get()
    unfinished = jobs.filter(status__in=[ImportStatus.PENDING, ImportStatus.RUNNING])
    if not unfinished.update(status=ImportStatus.RUNNING, heartbeat_at=timezone.now()):
        return job
    job.refresh_from_db()
    with translation.override(shop.locale):
        try:
            _run(shop=shop, job=job)
        except ImportFileError as exc:
            jobs.update(status=ImportStatus.FAILED, message=str(exc.message), finished_at=timezone.now())
        except Exception:
            logger.exception("Import job %s of shop %s failed", job_id, shop.pk)
            job.refresh_from_db(fields=["processed_rows"])
            message = _(
                "The import stopped unexpectedly after %(rows)s rows. The rows before were imported: upload the file "
                "again to import the rest (rows imported already count as duplicates)."
            ) % {"rows": job.processed_rows}
            jobs.update(status=ImportStatus.FAILED, message=message, finished_at=timezone.now())
            raise
    return jobs.get()


def _run(*, shop: Shop, job: ImportJob) -> None:
    handler = import_handler(job.kind)
    units, ignored = _parse(shop=shop, job=job, handler=handler, now=timezone.now())
    note = _("Columns not imported: %(columns)s.") % {"columns": ", ".join(ignored)} if ignored else ""
    jobs = ImportJob.objects.filter(shop=shop, pk=job.pk)
    total = sum(len(unit.rows) for unit in units)
    if not jobs.filter(status=ImportStatus.RUNNING).update(total_rows=total, message=note, heartbeat_at=timezone.now()):
        return  # failed meanwhile, as a job whose process had died (members.imports.stale): it stays failed
    errors, done = list(job.errors), 0
    for chunk in _chunks(units, min(CHUNK_SIZE, handler.chunk_size or CHUNK_SIZE)):
        rows = sum(len(unit.rows) for unit in chunk)
        if done + rows <= job.processed_rows:  # written by an earlier run of this job
            done += rows
            continue
        if not _import_chunk(shop=shop, job=job, handler=handler, units=chunk, offset=done, errors=errors):
            return  # another run of this job is ahead and finishes it, or the job was failed as stale
        done += rows
    jobs.filter(status=ImportStatus.RUNNING).update(status=ImportStatus.DONE, finished_at=timezone.now())


# --- Reads ---------------------------------------------------------------------------------------------------------


def import_list_recent(*, shop: Shop, limit: int = 20) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(shop=shop).select_related("created_by").defer("errors").order_by("-pk")[:limit]


def import_get(*, shop: Shop, pk: int) -> ImportJob:
    """Raises ImportJob.DoesNotExist for a missing job and another shop's alike."""
    return ImportJob.objects.get(shop=shop, pk=pk)


def import_job_shop_id_all_shops(*, job_id: int) -> int | None:
    """The shop of an import job, for a task that receives only the job id."""
    # Cross-shop by nature: the task must learn the job's shop before it can enter that shop's scope.
    with all_shops():
        return ImportJob.objects.filter(pk=job_id).values_list("shop_id", flat=True).first()


def import_errors_csv(*, job: ImportJob) -> str:
    """The row-by-row error report as CSV text, with a BOM so that Excel reads the Chinese in it."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([_("Row"), _("Reason")])
    for error in sorted(job.errors, key=lambda e: e["row"]):
        reason = error["reason"]
        writer.writerow([error["row"], "'" + reason if reason and reason[0] in "=+-@" else reason])
    return buffer.getvalue()
