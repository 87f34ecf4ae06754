"""Streamed CSV exports of a filtered member list.

Invariants: an export is recorded in the audit log (who, which filter, how many rows, full or masked phones) before
its first byte is sent; phones are masked unless the caller may see them; erased members are never exported (the
member filter never lists them).
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator

from django.utils.text import capfirst
from django.utils.translation import gettext as _

from shops.models import Shop
from shops.services import Actor, audit_record
from shops.tenancy import shop_scope
from shops.time import shop_zone

from .filters import DEFAULT_SORT, member_filter, member_sort
from .models import Gender, Member, MemberStatus
from .phones import mask_phone
from .selectors import member_scores

ROWS_PER_CHUNK = 500  # rows per piece of the response
FETCH_SIZE = 2000  # rows per database round trip

FIELDS = (
    "pk",
    "phone",
    "name",
    "gender",
    "birthday_month",
    "birthday_day",
    "birth_year",
    "region",
    "email",
    "external_id",
    "status",
    "join_channel",
    "joined_at",
    "lifetime_spend",
    "order_count",
    "spend_12m",
    "orders_12m",
    "first_order_at",
    "last_order_at",
    "consent_sms",
    "consent_push",
    "consent_email",
)


def _label(name: str) -> str:
    return capfirst(Member._meta.get_field(name).verbose_name)


def _safe(text: str) -> str:
    """Text a spreadsheet will not run as a formula (CSV injection): shoppers type their own names."""
    return "'" + text if text and text[0] in "=+-@\t\r" else text


def _phone(phone: str) -> str:
    """Digits only, as Excel keeps them: national for China (re-importable), E.164 otherwise."""
    return phone[3:] if phone.startswith("+86") else phone


def members_export_csv(
    *, shop: Shop, actor: Actor, definition: dict, sort: str = DEFAULT_SORT, show_phone: bool
) -> Iterator[str]:
    """The members of `shop` matching `definition`, in `sort` order, as CSV text pieces (UTF-8 BOM first, so that
    Excel reads the Chinese). Phones are masked unless `show_phone`.

    Raises InvalidFilter before anything is recorded. The export is audited ("member.export") before the first
    row is produced. Run inside the shop's scope; the rows are then read as the pieces are consumed."""
    members = member_sort(member_filter(shop=shop, definition=definition), sort)
    count = members.count()
    audit_record(
        shop=shop,
        actor=actor,
        action="member.export",
        changes={
            "filter": ["", json.dumps(definition, ensure_ascii=False, sort_keys=True)],
            "rows": ["", str(count)],
            "phones": ["", "full" if show_phone else "masked"],
        },
    )
    # Labels are resolved now, in the request's language: the pieces are produced after the view has returned.
    header = [_("Member ID"), *(_label(name) for name in FIELDS[1:4]), _("Birthday"), *(_label(n) for n in FIELDS[7:])]
    genders = {value: str(label) for value, label in Gender.choices}
    statuses = {value: str(label) for value, label in MemberStatus.choices}
    yes, no = _("yes"), _("no")
    tz = shop_zone(shop)

    def when(moment) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if moment else ""

    def line(values) -> list:
        (
            pk,
            phone,
            name,
            gender,
            month,
            day,
            year,
            region,
            email,
            external_id,
            status,
            channel,
            joined_at,
            spend,
            orders,
            spend_12m,
            orders_12m,
            first_at,
            last_at,
            sms,
            push,
            mail,
        ) = values
        birthday = f"{month:02d}-{day:02d}" if month and day else ""
        return [
            pk,
            _phone(phone) if show_phone else mask_phone(phone),
            _safe(name),
            genders.get(gender, gender),
            f"{year}-{birthday}" if year and birthday else birthday,
            _safe(region),
            _safe(email),
            _safe(external_id),
            statuses.get(status, status),
            _safe(channel),
            when(joined_at),
            spend,
            orders,
            spend_12m,
            orders_12m,
            when(first_at),
            when(last_at),
            *(yes if flag else no for flag in (sms, push, mail)),
        ]

    header += [_("Churn risk"), _("Probability active"), _("Predicted 12-month value")]

    def scored(values_rows) -> Iterator[list]:
        # The scores (analytics, through MEMBER_SCORES) of each fetched batch, in one query per batch.
        batch: list = []
        for values in values_rows:
            batch.append(values)
            if len(batch) == FETCH_SIZE:
                yield from with_scores(batch)
                batch = []
        yield from with_scores(batch)

    def with_scores(batch: list) -> Iterator[list]:
        # The response streams after the view has returned, outside the request's scope: this query enters its own.
        with shop_scope(shop):
            scores = member_scores(shop=shop, member_ids=[values[0] for values in batch])
        for values in batch:
            found = scores.get(values[0])
            if found:
                yield [*line(values), found["churn_risk_label"], f"{found['p_alive']:.4f}", found["predicted_value"]]
            else:
                yield [*line(values), "", "", ""]

    rows = scored(members.values_list(*FIELDS).iterator(chunk_size=FETCH_SIZE))
    return csv_pieces(header, rows)


def csv_pieces(header: list, rows: Iterable[list]) -> Iterator[str]:
    """A CSV file for a StreamingHttpResponse, in pieces of ROWS_PER_CHUNK rows, with the BOM Excel needs to read
    UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # Excel reads UTF-8 with a BOM
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
