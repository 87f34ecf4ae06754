"""Expiry of earned points (SPEC 6): the nightly expiry of due lots, and the reminder hook before it.

Invariant, as in points.services: a lot expires once, as one `expire` entry for its whole remainder (idempotency
key `expire#lot#<lot id>`), written in the same transaction as the lot's remainder going to 0 and the member's
cached balance going down by as much (members.figures). A re-run finds no open due lot and changes nothing.

Reminders: once a day (points.tasks), for each shop, every member with points expiring within the program's
`reminder_days` gets a `points.expiring` domain event (events.types), written set-based in batches of up to
REMINDER_BATCH. Members stay in the window, and get an event again, on every run until their points expire or are
spent: a consumer that tells the member acts once per `dedup_key` (shop, member, local date of the earliest
expiry) in the payload, e.g. by using it as an idempotency key. Expiry itself writes `points.posted` events (kind
`expire`) with its entries.
"""

from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from events.dispatch import nudge_on_commit
from events.outbox import NewEvent, emit_many, insert_select_sql
from events.types import EventType
from members.figures import member_counters_subtract
from members.models import Member
from shops.bulk import adapt, execute_counted
from shops.models import Shop
from shops.services import SYSTEM
from shops.time import local_date, shop_zone

from .models import EntryKind, PointsEntry, PointsLot
from .selectors import points_expiring, points_program_of

EXPIRE_KEY_PREFIX = "expire#lot#"
# Stored untranslated (the msgid), so that whoever shows the entry translates it into the reader's language.
EXPIRE_REASON = gettext_noop("Points expired")
REMINDER_BATCH = 1000

_MEMBERS = "points_expiry_members"  # a temporary table: the members this run has locked


class ExpiryConflict(RuntimeError):
    """An open lot already has its expiry entry: the ledger was changed outside the services. Nothing is written;
    the lot needs a person (points.selectors.points_reconcile shows the member)."""


def _due(alias: str = "l") -> str:
    return f"{alias}.shop_id = %s AND {alias}.remaining > 0 AND {alias}.expires_at <= %s"


def _body_hash_sql() -> str:
    """SQL for the body hash shops.idempotency.body_hash gives an expiry's content
    {"kind": "expire", "lot": ..., "member": ..., "points": ...}: the same JSON text (sorted keys, json.dumps
    separators), hashed with SHA-256 in hexadecimal (SQLite: the SHA256 function Django registers)."""
    content = (
        '\'{"kind": "expire", "lot": \' || CAST(l.id AS text) || \', "member": \' || CAST(l.member_id AS text)'
        " || ', \"points\": ' || CAST(-l.remaining AS text) || '}'"
    )
    if connection.vendor == "postgresql":
        return f"encode(sha256(convert_to({content}, 'UTF8')), 'hex')"
    return f"SHA256({content})"


def _entry_insert(*, shop: Shop, now: datetime) -> tuple[str, list]:
    """INSERT ... SELECT of one expire entry per due lot of the locked members. Columns that expiry does not set
    (a field added later included) get the field's default, so the statement follows the model."""
    chosen = {
        "shop_id": ("%s", [shop.pk]),
        "member_id": ("l.member_id", []),
        "kind": ("%s", [EntryKind.EXPIRE.value]),
        "points": ("-l.remaining", []),
        "reason": ("%s", [EXPIRE_REASON]),
        "idempotency_key": ("%s || CAST(l.id AS text)", [EXPIRE_KEY_PREFIX]),
        "body_hash": (_body_hash_sql(), []),
        "actor": ("%s", [SYSTEM.label]),
        "created_at": ("%s", [adapt(now, "datetime")]),
    }
    columns, expressions, params = [], [], []
    for field in PointsEntry._meta.concrete_fields:
        if field.primary_key:
            continue
        expression, values = chosen.get(field.attname) or (
            "%s",
            [field.get_db_prep_save(field.get_default(), connection)],
        )
        columns.append(field.column)
        expressions.append(expression)
        params.extend(values)
    sql = (
        f"INSERT INTO {PointsEntry._meta.db_table} ({', '.join(columns)}) "  # noqa: S608 - names come from the model
        f"SELECT {', '.join(expressions)} FROM {PointsLot._meta.db_table} l JOIN {_MEMBERS} em ON em.id = l.member_id "
        f"WHERE {_due()} ON CONFLICT (shop_id, idempotency_key) DO NOTHING"
    )
    return sql, params


@transaction.atomic
def points_expire(*, shop: Shop, now: datetime | None = None) -> int:
    """Expire every open lot of the shop whose expires_at is at or before `now` (default: now): an `expire` entry
    for the lot's remainder, the remainder set to 0, the member's balance lowered by the sum of their lots; set-based,
    in one transaction. Idempotent: a re-run (or a concurrent run) expires nothing twice. Returns the number of lots
    expired. Raises ExpiryConflict (nothing written) when an open due lot already has its expiry entry, and
    IntegrityError when a cached balance is below its lots (drift: points_reconcile shows it)."""
    now = now or timezone.now()
    due = [shop.pk, adapt(now, "datetime")]
    lots, members = PointsLot._meta.db_table, Member._meta.db_table
    # Locking. Every writer of a member's points (points.services) locks the member row, then the member's lots.
    # Expiry first locks, in one statement and in primary-key order, every member who has a due lot (and keeps
    # their ids in a temporary table), and only then reads and writes lots: so it waits for a redemption in
    # flight and a redemption waits for it, never half of each; and since the locks are taken in one order, two
    # runs, or a run and any other writer locking several members in key order, cannot deadlock. Each following
    # statement (READ COMMITTED: a fresh snapshot) sees every write committed before the lock was granted, and only
    # touches the locked members, so a lot that became due meanwhile for another member waits for the next run.
    # FOR NO KEY UPDATE is what an UPDATE of the balance takes: it conflicts with the services' FOR UPDATE, but not
    # with inserts of rows that reference the member (orders, entries). SQLite has no row locks (a write
    # transaction excludes every other writer), hence no locking clause there.
    lock = " FOR NO KEY UPDATE OF m" if connection.vendor == "postgresql" else ""
    insert_sql, insert_params = _entry_insert(shop=shop, now=now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE TEMPORARY TABLE {_MEMBERS} AS SELECT m.id FROM {members} m
                WHERE m.shop_id = %s
                AND EXISTS (SELECT 1 FROM {lots} l WHERE l.shop_id = m.shop_id AND l.member_id = m.id AND {_due()})
                ORDER BY m.id{lock}""",  # noqa: S608 - table names come from the models
            [shop.pk, *due],
        )
        if connection.vendor == "postgresql":  # the entries and their events in one statement
            cursor.execute(
                f"WITH e AS ({insert_sql} RETURNING id, member_id, points, idempotency_key), "  # noqa: S608
                f"ev AS ({_expired_events(shop, 'e')}) SELECT COUNT(*) FROM e",
                [*insert_params, *due],
            )
            [expired] = cursor.fetchone()
        else:  # SQLite writes one transaction at a time: the entries after the last id before are this run's
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM points_pointsentry")  # tenant-ok: SQLite, one writer
            [last] = cursor.fetchone()
            expired = execute_counted(cursor, insert_sql, [*insert_params, *due])
            source = f"points_pointsentry e WHERE e.shop_id = %s AND e.id > %s AND e.kind = '{EntryKind.EXPIRE}'"
            cursor.execute(_expired_events(shop, source), [shop.pk, last])
        nudge_on_commit(shop.pk)
        member_counters_subtract(
            shop=shop,
            column="points_balance",
            totals_sql=f"""SELECT l.shop_id, l.member_id, SUM(l.remaining) AS total FROM {lots} l
                JOIN {_MEMBERS} em ON em.id = l.member_id WHERE {_due()}
                GROUP BY l.shop_id, l.member_id""",  # noqa: S608
            params=due,
        )
        zeroed = execute_counted(
            cursor,
            f"UPDATE {lots} SET remaining = 0 WHERE {_due(lots)} AND member_id IN (SELECT id FROM {_MEMBERS})",  # noqa: S608
            due,
        )
        cursor.execute(f"DROP TABLE {_MEMBERS}")  # tenant-ok: this run's temporary table
    if expired != zeroed:  # ON CONFLICT skipped a lot that is still open: never lower a balance without its entry
        raise ExpiryConflict(f"shop {shop.pk}: {zeroed - expired} open due lots already have an expiry entry")
    return expired


def _expired_events(shop: Shop, source: str) -> str:
    """The points.posted events (kind expire) of the expire entries `source` (aliased e), as posted_event makes
    them: written in SQL, since a million lots may expire in one night."""
    payload = {
        "kind": f"'{EntryKind.EXPIRE.value}'",
        "points": "e.points",
        "key": "e.idempotency_key",
        "entry_id": "e.id",
    }
    return insert_select_sql(
        shop_id=shop.pk,
        type=EventType.POINTS_POSTED,
        source=source,
        member="e.member_id",
        payload=payload,
        occurred_at="CURRENT_TIMESTAMP",
    )


@dataclass(frozen=True)
class ExpiryReminder:
    member_id: int
    points: int  # expiring within the reminder window
    expires_at: datetime  # the earliest of them
    dedup_key: str  # "points-expiry:<shop id>:<member id>:<local date of expires_at>"


def points_expiry_reminders(*, shop: Shop, now: datetime | None = None) -> int:
    """Write a `points.expiring` event for every member with points expiring within the program's reminder_days
    after `now` (see the module docstring). Returns the number of reminders (members); 0 with reminder_days = 0
    (nothing is read then)."""
    program = points_program_of(shop=shop)
    if program.reminder_days == 0:
        return 0
    zone = shop_zone(shop)
    rows = points_expiring(shop=shop, within_days=program.reminder_days, now=now)
    count, rows = 0, rows.iterator(chunk_size=REMINDER_BATCH)
    while batch := list(islice(rows, REMINDER_BATCH)):
        reminders = [
            ExpiryReminder(
                member_id=row["member_id"],
                points=row["points"],
                expires_at=row["earliest_expiry"],
                dedup_key=f"points-expiry:{shop.pk}:{row['member_id']}:{local_date(zone, row['earliest_expiry'])}",
            )
            for row in batch
        ]
        with transaction.atomic():
            emit_many(shop_id=shop.pk, events=[_expiring_event(r) for r in reminders])
        count += len(reminders)
    return count


def _expiring_event(reminder: ExpiryReminder) -> NewEvent:
    payload = {
        "points": reminder.points,
        "expires_at": reminder.expires_at.isoformat(),
        "dedup_key": reminder.dedup_key,
    }
    return NewEvent(EventType.POINTS_EXPIRING, reminder.member_id, payload)
