"""Imports from CSV (UTF-8 with or without BOM, GBK/GB18030) and XLSX files: the engine, and the members kind.
Files are read within bounds of size, rows, columns and time by members.import_files.

Invariants: a file-level problem (not CSV/XLSX, undecodable, empty, required columns missing, over a bound of
members.import_files) fails the job before anything is written. Otherwise every data row is counted once, as
created, duplicate or error (processed = created + duplicates + errors), and every error names its row and reason.
Each chunk's writes commit in one transaction with the job's progress, so a re-run of the job (a lost worker, a
duplicate delivery) resumes after the last committed chunk, and importing the same file again creates nothing.

Kinds that write into apps above members (orders.imports) plug in through settings.IMPORT_KINDS.
"""

import csv
import datetime
import io
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from time import monotonic

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F, JSONField, QuerySet, Value
from django.db.models.expressions import CombinedExpression
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from shops.bulk import values_cte
from shops.models import Shop
from shops.services import Actor, audit_record
from shops.tenancy import all_shops
from shops.text import code_point, hidden_character
from shops.time import local_today

from .errors import ImportFileError
from .import_files import MAX_FILE_BYTES, Columns, Table, import_file_check, read_table
from .models import Gender, ImportJob, ImportKind, ImportStatus, Member, MemberStatus
from .phones import InvalidPhone, normalize_phone
from .services import Enrolment

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000  # rows (or units of rows) per transaction; a kind may ask for less
HEARTBEAT_SECONDS = 30  # while a file is read, how often the job records that its process is alive
IMPORT_CHANNEL = "import"  # the join channel of imported members


class RowError(Exception):
    """One row cannot be imported; the message is its reason in the report."""


# --- Columns: Chinese or English names, matched loosely (by members.import_files.header_key) -----------------------


PHONE_ALIASES = ("手机号", "手机", "手机号码", "电话", "电话号码", "联系电话", "phone", "mobile", "phonenumber", "tel")

MEMBER_COLUMNS = {
    "phone": PHONE_ALIASES,
    "name": ("姓名", "名字", "会员姓名", "会员名称", "name"),
    "gender": ("性别", "gender", "sex"),
    "birthday": ("生日", "出生日期", "birthday", "birthdate", "dateofbirth"),
    "region": ("地区", "所在地区", "地域", "城市", "region", "area", "city"),
    "email": ("邮箱", "电子邮箱", "电子邮件", "邮件", "email"),
    "external_id": ("外部id", "平台买家id", "买家id", "externalid", "platformbuyerid", "buyerid"),
}


class Row:
    """One data row, read by field name."""

    def __init__(self, number: int, cells: list, columns: Columns):
        self.number, self.cells, self.columns = number, cells, columns

    def __getitem__(self, name: str):
        index = self.columns.positions.get(name)
        return self.cells[index] if index is not None and index < len(self.cells) else ""

    def column(self, name: str) -> str:
        return self.columns.headers.get(name, name)

    def text(self, name: str, *, max_length: int, required: bool = False) -> str:
        value = self[name]
        text = value.isoformat() if isinstance(value, datetime.date) else value
        if required and not text:
            raise RowError(_("%(column)s is empty.") % {"column": self.column(name)})
        if len(text) > max_length:
            raise RowError(
                _("%(column)s is longer than %(max)s characters.") % {"column": self.column(name), "max": max_length}
            )
        if (char := hidden_character(text)) is not None:
            raise RowError(
                _("%(column)s holds the invisible character %(char)s: control and text-direction characters are not "
                  "allowed.") % {"column": self.column(name), "char": code_point(char)}
            )  # fmt: skip
        return text


# --- Field parsers: each raises RowError with the reason -------------------------------------------------------


_MAINLAND_MOBILE = re.compile(r"(?:\+86|86(?=\d{11}$))?(1\d{10})")


def row_phone(row: Row) -> str:
    """The row's phone in E.164, as members.phones.normalize_phone gives it. Raises RowError."""
    raw = row.text("phone", max_length=40, required=True)
    # Most imported numbers are mainland mobiles. They are checked against phonenumbers' own rules without parsing
    # the text first, four times faster; anything else (and any number the check refuses) takes the general path.
    if (match := _MAINLAND_MOBILE.fullmatch(re.sub(r"[ -]", "", raw))) and phonenumbers.is_valid_number(
        phonenumbers.PhoneNumber(country_code=86, national_number=int(match[1]))
    ):
        return "+86" + match[1]
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        raise RowError(_("Not a valid phone number: %(value)s") % {"value": raw}) from None


GENDERS = {
    "": Gender.UNKNOWN,
    "未知": Gender.UNKNOWN,
    "保密": Gender.UNKNOWN,
    "unknown": Gender.UNKNOWN,
    "男": Gender.MALE,
    "男性": Gender.MALE,
    "先生": Gender.MALE,
    "m": Gender.MALE,
    "male": Gender.MALE,
    "女": Gender.FEMALE,
    "女性": Gender.FEMALE,
    "女士": Gender.FEMALE,
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
}


def _gender(row: Row) -> str:
    raw = row.text("gender", max_length=20)
    try:
        return GENDERS[raw.lower()]
    except KeyError:
        raise RowError(_("Unknown gender: %(value)s (use 男/女 or male/female)") % {"value": raw}) from None


def _birthday(row: Row, today: datetime.date) -> tuple[int | None, int | None, int | None]:
    """(month, day, year or None); all None when blank."""
    value = row["birthday"]
    bad = RowError(_("Not a valid birthday: %(value)s (use YYYY-MM-DD or MM-DD)") % {"value": value})
    if isinstance(value, datetime.date):
        year, month, day = value.year, value.month, value.day
    elif not value:
        return None, None, None
    elif match := re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?|(\d{4})(\d{2})(\d{2})", value):
        year, month, day = (int(p) for p in match.groups() if p is not None)
    elif match := re.fullmatch(r"(\d{1,2})[-/.月](\d{1,2})日?", value):
        year = None
        month, day = (int(p) for p in match.groups())
    else:
        raise bad
    try:
        born = datetime.date(year or 2000, month, day)  # 2000 is a leap year: 02-29 is a real birthday
    except ValueError:
        raise bad from None
    if year is not None and born > today:
        raise RowError(_("%(column)s is in the future: %(value)s") % {"column": row.column("birthday"), "value": value})
    if year is not None and year < 1900:
        raise bad
    return month, day, year


def _email(row: Row) -> str:
    email = row.text("email", max_length=254)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise RowError(_("Not a valid email address: %(value)s") % {"value": email}) from None
    return email


def row_amount(row: Row, name: str, *, required: bool = True) -> Decimal | None:
    raw = row[name]
    text = raw.isoformat() if isinstance(raw, datetime.date) else raw
    text = re.sub(r"[¥￥,，\s]", "", text)
    if not text:
        if required:
            raise RowError(_("%(column)s is empty.") % {"column": row.column(name)})
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0 or value.as_tuple().exponent < -2 or value >= 10**10:
        raise RowError(_("Not a valid amount in %(column)s: %(value)s") % {"column": row.column(name), "value": raw})
    return value.quantize(Decimal("0.01"))  # exact: at most two decimals were given


# --- Kinds of import: how rows become units of work, and how a chunk of units is written ---------------------------


@dataclass
class Unit:
    """What one or more rows become: a value to write, or the errors that keep them out."""

    rows: list[int]
    value: object = None
    errors: list[dict] = field(default_factory=list)


def error_entry(row: int, reason: str) -> dict:
    return {"row": row, "reason": reason}


def _member_units(*, table: Table, columns: Columns, shop: Shop, now: datetime.datetime) -> list[Unit]:
    today = local_today(shop, now)
    units, phones, external_ids = [], {}, {}
    for number, cells in table.rows:
        row = Row(number, cells, columns)
        try:
            phone = row_phone(row)
            month, day, year = _birthday(row, today)
            member = Enrolment(
                phone=phone,
                name=row.text("name", max_length=50),
                gender=_gender(row),
                birthday_month=month,
                birthday_day=day,
                birth_year=year,
                region=row.text("region", max_length=64),
                email=_email(row),
                external_id=row.text("external_id", max_length=64),
                channel=IMPORT_CHANNEL,
            )
            if phone in phones:
                raise RowError(_("Duplicate within the file: same phone as row %(row)s.") % {"row": phones[phone]})
            if member.external_id in external_ids:
                raise RowError(
                    _("Duplicate within the file: same %(column)s as row %(row)s.")
                    % {"column": row.column("external_id"), "row": external_ids[member.external_id]}
                )
        except RowError as exc:
            units.append(Unit([number], errors=[error_entry(number, str(exc))]))
            continue
        phones[phone] = number
        if member.external_id:
            external_ids[member.external_id] = number
        units.append(Unit([number], member))
    return units


# --- Writing a chunk ---------------------------------------------------------------------------------------------


@dataclass
class ChunkResult:
    created: int = 0
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)


def _members_chunk(*, shop: Shop, units: list[Unit]) -> ChunkResult:
    """Enrol the chunk's new members in one insert. Phones that are members already are duplicates."""
    result = ChunkResult()
    for unit in units:
        result.errors += unit.errors
    valid = [unit for unit in units if unit.value is not None]
    live = Member.objects.filter(shop=shop).exclude(status=MemberStatus.ERASED)
    existing = set(live.filter(phone__in=[unit.value.phone for unit in valid]).values_list("phone", flat=True))
    external_ids = [u.value.external_id for u in valid if u.value.external_id and u.value.phone not in existing]
    taken = set(
        Member.objects.filter(shop=shop, external_id__in=external_ids).values_list("external_id", flat=True)
        if external_ids
        else []
    )
    new = {}
    for unit in valid:
        enrolment = unit.value
        if enrolment.phone in existing:
            result.duplicates += 1
        elif enrolment.external_id in taken:
            result.errors.append(error_entry(unit.rows[0], _external_id_taken(enrolment)))
        else:
            new[enrolment.phone] = unit
    inserted = _insert_members(shop=shop, enrolments=[unit.value for unit in new.values()])
    result.created = len(inserted)
    lost = [phone for phone in new if phone not in inserted]
    if lost:  # a concurrent writer took the phone, or the platform buyer id, between the checks and the insert
        enrolled_meanwhile = set(live.filter(phone__in=lost).values_list("phone", flat=True))
        for phone in lost:
            if phone in enrolled_meanwhile:
                result.duplicates += 1
            else:
                result.errors.append(error_entry(new[phone].rows[0], _external_id_taken(new[phone].value)))
    return result


# The columns an imported row fills; every other column takes its model default, computed once per chunk.
ROW_COLUMNS = (
    ("phone", "text"),
    ("name", "text"),
    ("gender", "text"),
    ("birthday_month", "int"),
    ("birthday_day", "int"),
    ("birth_year", "int"),
    ("region", "text"),
    ("email", "text"),
    ("external_id", "text"),
)


def _insert_members(*, shop: Shop, enrolments: list[Enrolment]) -> set[str]:
    """Insert new members in one statement (INSERT ... SELECT over a VALUES list) and return the phones inserted.
    A row that clashes with a unique key (a concurrent enrolment of the phone or buyer id) is skipped.

    Not members_bulk_enroll: Django's bulk_create prepares every column of every row (about 3,000 rows/s here),
    while this sends the nine columns an import fills and the defaults once, and tells which rows went in."""
    if not enrolments:
        return set()
    postgres = connection.vendor == "postgresql"
    template = Member(shop=shop, join_channel=IMPORT_CHANNEL, joined_at=timezone.now())
    names = {name for name, _kind in ROW_COLUMNS}
    defaults = [f for f in Member._meta.concrete_fields if not f.primary_key and f.name not in names]
    cte, params = values_cte("v", ROW_COLUMNS, ([getattr(e, name) for name, _kind in ROW_COLUMNS] for e in enrolments))
    quote = connection.ops.quote_name
    targets = [quote(Member._meta.get_field(name).column) for name, _kind in ROW_COLUMNS]
    targets += [quote(f.column) for f in defaults]
    placeholders = [f"CAST(%s AS {f.cast_db_type(connection)})" if postgres else "%s" for f in defaults]
    params += [f.get_db_prep_save(f.pre_save(template, add=True), connection) for f in defaults]
    # Table and column names come from the model; every value is a parameter. SQLite needs the WHERE to tell the
    # upsert clause from the SELECT.
    sql = (
        f"{cte} INSERT INTO {quote(Member._meta.db_table)} ({', '.join(targets)}) "  # noqa: S608
        f"SELECT {', '.join(f'v.{name}' for name, _kind in ROW_COLUMNS)}, {', '.join(placeholders)} FROM v "
        f"WHERE true ON CONFLICT DO NOTHING RETURNING {quote('phone')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {phone for (phone,) in cursor.fetchall()}


def _external_id_taken(enrolment: Enrolment) -> str:
    return _("Another member already has the platform buyer id %(value)s.") % {"value": enrolment.external_id}


@dataclass(frozen=True)
class ImportKindHandler:
    """One kind of file: its columns, how its rows become units of work, and how a chunk of units is written."""

    columns: dict[str, tuple[str, ...]]  # field -> header names it is known by (compared through header_key)
    required: dict[str, str]  # field -> how a message names the column when it is missing ("手机号/phone")
    # (table=, columns=, shop=, now=) -> units, deterministic for one file; may raise ImportFileError
    units: Callable[..., list[Unit]]
    # (shop=, units=) -> ChunkResult; runs inside the transaction that also records the chunk's progress
    write: Callable[..., ChunkResult]
    chunk_size: int = CHUNK_SIZE  # units per chunk at most


MEMBER_IMPORT = ImportKindHandler(
    columns=MEMBER_COLUMNS, required={"phone": "手机号/phone"}, units=_member_units, write=_members_chunk
)


def import_handler(kind: str) -> ImportKindHandler:
    """The handler of an ImportKind. Kinds that write into apps above members (orders) are named in
    settings.IMPORT_KINDS, as dotted paths, so that members imports no higher app. Raises ImportFileError."""
    if kind == ImportKind.MEMBERS:
        return MEMBER_IMPORT
    path = getattr(settings, "IMPORT_KINDS", {}).get(kind)
    if kind not in ImportKind.values or path is None:
        raise ImportFileError(_("Choose what the file holds: members or orders."))
    return import_string(path)


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
        from .tasks import import_run  # the task module imports this one

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
    file takes minutes, and members.import_stale fails the jobs whose process shows no life."""
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
        return  # failed meanwhile, as a job whose process had died (members.import_stale): it stays failed
    errors, done = list(job.errors), 0
    for chunk in _chunks(units, min(CHUNK_SIZE, handler.chunk_size)):
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
