"""The members kind of import: members from CSV/XLSX, enrolled in one insert per chunk.

A phone that is a member already is a duplicate; a platform buyer id that another member holds is an error. Rows
of the same phone or buyer id within the file are errors after the first.
"""

import datetime
import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from shops.bulk import values_cte
from shops.models import Shop
from shops.time import local_today

from ..models import Gender, Member, MemberStatus
from ..services import Enrolment
from .files import Columns, Table
from .kind import PHONE_ALIASES, ChunkResult, ImportKindHandler, Row, RowError, Unit, error_entry, row_phone

IMPORT_CHANNEL = "import"  # the join channel of imported members

MEMBER_COLUMNS = {
    "phone": PHONE_ALIASES,
    "name": ("姓名", "名字", "会员姓名", "会员名称", "name"),
    "gender": ("性别", "gender", "sex"),
    "birthday": ("生日", "出生日期", "birthday", "birthdate", "dateofbirth"),
    "region": ("地区", "所在地区", "地域", "城市", "region", "area", "city"),
    "email": ("邮箱", "电子邮箱", "电子邮件", "邮件", "email"),
    "external_id": ("外部id", "平台买家id", "买家id", "externalid", "platformbuyerid", "buyerid"),
}


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
    # A column with a database default (the holdout bucket) is left to it: drawn per row, not once for the template.
    defaults = [f for f in Member._meta.concrete_fields if not (f.primary_key or f.name in names or f.has_db_default())]
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
        # tenant-ok: shop_id is among the columns written, from the template member of `shop`
        cursor.execute(sql, params)
        return {phone for (phone,) in cursor.fetchall()}


def _external_id_taken(enrolment: Enrolment) -> str:
    return _("Another member already has the platform buyer id %(value)s.") % {"value": enrolment.external_id}


MEMBER_IMPORT = ImportKindHandler(
    columns=MEMBER_COLUMNS, required={"phone": "手机号/phone"}, units=_member_units, write=_members_chunk
)
