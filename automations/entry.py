"""Entering members into an automation (SPEC 13), set-based: one INSERT ... SELECT per batch, whether the batch
comes from domain events (a list of members and occurrences) or from the daily pass (a query over members).

A journey is unique per (automation, member, occurrence), so a replayed event or a re-run pass enters nobody twice.
The re-entry rule narrows it further: `once` enters a member at most once ever (whatever the occurrence), `period`
at most once in `reentry_days`, `every` once per occurrence. A member whose bucket falls in the automation's holdout
enters as `holdout`: recorded for the uplift, never messaged or rewarded (the same bucket arithmetic as a
campaign's, shifted per automation). Only active members enter."""

import datetime

from django.db import connection
from django.db.models import F, QuerySet, Value
from django.utils import timezone

from campaigns.audience import HOLDOUT_STEP
from members.models import MemberStatus
from shops.bulk import adapt, values_cte
from shops.models import Shop

from .models import Automation, JourneyStatus, Reentry

COLUMNS = "shop_id, automation_id, member_id, occurrence, subject, status, position, due_at, entered_at, detail"


def _holdout_offset(automation: Automation) -> int:
    return automation.pk * HOLDOUT_STEP % 10_000


def _guard(automation: Automation, now: datetime.datetime) -> tuple[str, list]:
    """The re-entry rule as a condition on the candidate `c` (member_id)."""
    if automation.reentry == Reentry.EVERY:
        return "", []
    sql = (
        " AND NOT EXISTS (SELECT 1 FROM automations_journey p WHERE p.shop_id = c.shop_id "
        "AND p.automation_id = %s AND p.member_id = c.member_id"
    )
    params: list = [automation.pk]
    if automation.reentry == Reentry.PERIOD:
        sql += " AND p.entered_at > %s"
        params.append(adapt(now - datetime.timedelta(days=automation.reentry_days), "datetime"))
    return sql + ")", params


def _insert(
    shop: Shop, automation: Automation, candidates: str, params: list, now: datetime.datetime, prefix: tuple = ("", [])
) -> int:
    """Insert the journeys of `candidates` (a SELECT of shop_id, member_id, occurrence, subject, detail, bucket),
    after `prefix` (a WITH clause the candidates read, and its parameters)."""
    guard, guard_params = _guard(automation, now)
    holdout = (
        f"CASE WHEN ((%s + c.bucket) %% 10000) < %s THEN '{JourneyStatus.HOLDOUT}' ELSE '{JourneyStatus.ACTIVE}' END"
    )
    sql = (
        f"{prefix[0]} INSERT INTO automations_journey ({COLUMNS}) "  # noqa: S608 - our SQL; values are parameters
        f"SELECT c.shop_id, %s, c.member_id, c.occurrence, c.subject, {holdout}, 0, %s, %s, c.detail "
        f"FROM ({candidates}) AS c WHERE c.shop_id = %s{guard} "
        "ON CONFLICT (shop_id, automation_id, member_id, occurrence) DO NOTHING"
    )
    args = [
        *prefix[1],
        automation.pk,
        _holdout_offset(automation),
        automation.holdout_percent * 100,
        adapt(now, "datetime"),  # as the ORM stores it (SQLite compares the text)
        adapt(now, "datetime"),
        *params,
        shop.pk,
        *guard_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.rowcount


def journeys_enter(
    *,
    shop: Shop,
    automation: Automation,
    entries: list[tuple[int, str, str, dict]],
    now: datetime.datetime | None = None,
) -> int:
    """Enter (member id, occurrence, subject, detail) rows, in one statement; a member in the list twice with one
    occurrence enters once. Returns the journeys written. Call it inside the caller's transaction."""
    now = now or timezone.now()
    seen, rows = set(), []
    for member_id, occurrence, subject, detail in entries:
        if (member_id, occurrence) not in seen:
            seen.add((member_id, occurrence))
            rows.append((member_id, occurrence[:64], subject[:64], detail))
    if not rows:
        return 0
    columns = [("member_id", "int"), ("occurrence", "text"), ("subject", "text"), ("detail", "json")]
    prefix = values_cte("e", columns, rows)
    candidates = (
        "SELECT m.shop_id, m.id AS member_id, e.occurrence, e.subject, e.detail, m.bucket FROM e "
        "JOIN members_member m ON m.shop_id = %s AND m.id = e.member_id AND m.status = %s"
    )
    return _insert(shop, automation, candidates, [shop.pk, MemberStatus.ACTIVE], now, prefix)


def journeys_enter_select(
    *,
    shop: Shop,
    automation: Automation,
    rows: QuerySet,
    member: str = "pk",
    occurrence,
    subject=None,
    detail,
    now: datetime.datetime | None = None,
) -> int:
    """Enter the members of `rows` (the daily pass's query over members, or over rows naming a member by the
    field `member`) in one INSERT ... SELECT, with `occurrence` and `detail` as expressions over a row (Value for
    a constant). Returns the journeys written."""
    now = now or timezone.now()
    via = "" if member == "pk" else f"{member.removesuffix('_id')}__"
    qs = (
        rows.filter(**{f"{via}status": MemberStatus.ACTIVE})
        .annotate(
            c_member=F(member),
            c_bucket=F(f"{via}bucket"),
            c_occurrence=occurrence,
            c_subject=subject if subject is not None else Value(""),
            c_detail=detail,
        )
        .values_list("shop_id", "c_member", "c_occurrence", "c_subject", "c_detail", "c_bucket")
    )
    select, params = qs.query.sql_with_params()
    columns = "s.shop_id, s.c_member AS member_id, s.c_occurrence AS occurrence, s.c_subject AS subject"
    # The ORM's SQL; values are parameters.
    candidates = f"SELECT {columns}, s.c_detail AS detail, s.c_bucket AS bucket FROM ({select}) AS s"  # noqa: S608
    return _insert(shop, automation, candidates, list(params), now)
