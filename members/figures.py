"""The member row's cached figures: this module is the only code that writes them (SPEC 9).

| columns of Member             | meaning owned by                | written by (functions of this module)           |
|-------------------------------|---------------------------------|-------------------------------------------------|
| lifetime_spend, order_count   | orders: the counted orders      | member_aggregates_apply                         |
| first_order_at, last_order_at | orders: the counted orders      | member_aggregates_apply, member_order_span_set  |
| spend_12m, orders_12m         | orders: the same in WINDOW_12M  | member_aggregates_apply, member_windows_refresh |
| points_balance                | points: the points ledger       | member_points_add, member_counters_add,         |
|                               |                                 | member_counters_subtract, ..._aggregates_apply  |
| points_pending                | points: the pending awards      | member_counters_add, member_aggregates_apply    |
| growth_value                  | tiers: the growth value ledger  | member_counters_add, member_aggregates_apply    |
| tier, tier_until              | tiers: assignment, evaluation   | member_tier_set, members_tiers_update_sql       |

Each app owns what its figures mean (the counted orders: amount less refunds of the orders in COUNTED_STATUSES,
their number, first and last payment) and asks this module to write them, in the transaction that writes the facts
they summarise (orders, ledger entries, tier changes), so that a figure always equals what its owner recomputes
from the facts (points.selectors.points_reconcile proves it for the balances nightly). Recording orders applies
their aggregates and the balances their effects changed in one statement per batch (member_aggregates_apply, after
members_lock_for_orders), a refund or cancellation takes them back; the ledgers post single entries and batches;
the nightly jobs age the 12-month windows and expire points; the tier evaluation moves tiers inside its own
statement (members_tiers_update_sql).

Writers of several members lock their rows in primary-key order, so that they cannot deadlock. The balances'
CheckConstraints refuse a result below zero or above MAX_BALANCE. Every write stamps updated_at, which the
incremental tier evaluation reads, but a single points entry's and the expiry's (tiers do not read points, and an
update that leaves the indexed column alone stays HOT). The set-based writes are written out in SQL: the bulk order
path records thousands of orders a second through member_aggregates_apply.
"""

from collections.abc import Collection
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from shops.bulk import adapt, execute_counted, in_condition, values_cte
from shops.models import Shop

from .errors import BalanceLimit
from .models import BALANCE_LIMIT_CONSTRAINT, Member

# The rolling window of spend_12m and orders_12m: an order paid within it counts there (orders.services decides
# it for each new order, member_windows_refresh ages out what left it).
WINDOW_12M = timedelta(days=365)

# The members' cached ledger balances, each changed only in the transaction that writes the ledger's entries, at
# the request of the app that owns the ledger (points, tiers) or, for new orders, handed by it to
# member_aggregates_apply.
COUNTER_COLUMNS = frozenset({"growth_value", "points_balance", "points_pending"})

# The members' figures that the effects of new orders read (points rules, the instant tier upgrade).
ORDER_FACTS = (
    "tier_id",
    "birthday_month",
    "order_count",
    "lifetime_spend",
    "spend_12m",
    "orders_12m",
    "growth_value",
    "referrer_id",
)


@dataclass
class SpendDelta:
    """A change to one member's order aggregates: lifetime spend and count, the part of them inside the rolling
    12-month window, and (when given) the order times that widen the first/last order range."""

    spend: Decimal
    count: int
    recent_spend: Decimal = Decimal(0)
    recent_count: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None

    def __add__(self, other: "SpendDelta") -> "SpendDelta":
        firsts = [t for t in (self.first_at, other.first_at) if t]
        lasts = [t for t in (self.last_at, other.last_at) if t]
        return SpendDelta(
            self.spend + other.spend,
            self.count + other.count,
            self.recent_spend + other.recent_spend,
            self.recent_count + other.recent_count,
            min(firsts, default=None),
            max(lasts, default=None),
        )


_NO_SPEND = SpendDelta(Decimal(0), 0)


def _lock(*, shop: Shop, ids: list[int]) -> None:
    """Lock members' rows in primary-key order, so that writers of several members cannot deadlock. One row needs
    no statement of its own: the UPDATE that follows locks it."""
    if len(ids) > 1:
        list(Member.objects.select_for_update().filter(shop=shop, pk__in=ids).order_by("pk").values_list("pk"))


def order_facts(values) -> dict:
    """A row of ORDER_FACTS as {fact: value}, money as Decimal."""
    return {
        name: Decimal(str(value)) if name in {"lifetime_spend", "spend_12m"} else value
        for name, value in zip(ORDER_FACTS, values, strict=True)
    }


def members_lock_for_orders(*, shop: Shop, ids: set[int]) -> dict[int, dict]:
    """Lock the buyers of new orders (in primary-key order) and read their ORDER_FACTS as they stand before the
    orders' aggregates are applied: {member id: {fact: value}}. Must run inside the recording transaction; then
    member_aggregates_apply(locked=True) writes these rows without locking them again. Written out (one
    statement, no ORM compilation): it runs on every order."""
    if not ids:
        return {}
    ids = sorted(ids)
    where, params = in_condition("id", ids)
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""  # SQLite serialises writers
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, {', '.join(ORDER_FACTS)} FROM members_member "  # noqa: S608 - columns from code
            f"WHERE shop_id = %s AND {where} ORDER BY id{lock}",
            [shop.pk, *params],
        )
        return {row[0]: order_facts(row[1:]) for row in cursor.fetchall()}


@contextmanager
def _balances_within_limit():
    """The balances' CheckConstraint refusing a sum above MAX_BALANCE, as the domain error BalanceLimit (a 409 with
    its message) instead of an IntegrityError (a 500). The set-based writes below add credits of many members at
    once and check no balance beforehand; the transaction they run in is rolled back with everything it wrote."""
    try:
        yield
    except IntegrityError as exc:
        if BALANCE_LIMIT_CONSTRAINT in str(exc):
            raise BalanceLimit() from exc
        raise


def member_aggregates_apply(
    *,
    shop: Shop,
    deltas: dict[int, SpendDelta],
    counters: dict[str, dict[int, int]] | None = None,
    locked: bool = False,
) -> None:
    """Add order deltas to members' lifetime spend, order count, rolling 12-month figures and first/last order
    time, in one UPDATE; with `counters` ({column of COUNTER_COLUMNS: {member id: delta}}), the ledger balances
    that the orders' effects changed too, in the same statement (the effects wrote their ledger entries in this
    transaction and hand the balances over, so that a new order updates its buyer's row once).

    Must run inside the transaction that records the orders (or their refund or cancellation). Rows are locked in
    primary-key order first, so two batches touching the same members cannot deadlock; `locked`: the caller holds
    every one of these rows already (members_lock_for_orders), which spares a batch of a thousand orders the
    second lock of 850 rows. Raises BalanceLimit when a balance would pass MAX_BALANCE."""
    counters = {column: {pk: d for pk, d in by_member.items() if d} for column, by_member in (counters or {}).items()}
    assert set(counters) <= COUNTER_COLUMNS
    ids = sorted(set(deltas).union(*counters.values()))
    if not ids:
        return
    if not locked:
        _lock(shop=shop, ids=ids)
    columns = [
        ("id", "int"),
        ("spend", "decimal"),
        ("cnt", "int"),
        ("recent_spend", "decimal"),
        ("recent_cnt", "int"),
        ("first_at", "datetime"),
        ("last_at", "datetime"),
        *((column, "int") for column in sorted(counters)),
    ]
    rows = []
    for pk in ids:
        d = deltas.get(pk, _NO_SPEND)
        added = (counters[column].get(pk, 0) for column in sorted(counters))
        rows.append((pk, d.spend, d.count, d.recent_spend, d.recent_count, d.first_at, d.last_at, *added))
    cte, params = values_cte("v", columns, rows)
    balances = "".join(f"{column} = m.{column} + v.{column}, " for column in sorted(counters))
    sql = f"""{cte}
        UPDATE members_member AS m SET
            lifetime_spend = m.lifetime_spend + v.spend,
            order_count = m.order_count + v.cnt,
            spend_12m = m.spend_12m + v.recent_spend,
            orders_12m = m.orders_12m + v.recent_cnt,
            first_order_at = CASE
                WHEN v.first_at IS NOT NULL AND (m.first_order_at IS NULL OR v.first_at < m.first_order_at)
                THEN v.first_at ELSE m.first_order_at END,
            last_order_at = CASE
                WHEN v.last_at IS NOT NULL AND (m.last_order_at IS NULL OR v.last_at > m.last_order_at)
                THEN v.last_at ELSE m.last_order_at END,
            {balances}updated_at = %s
        FROM v WHERE m.id = v.id AND m.shop_id = %s"""  # noqa: S608 - the CTE and columns are built from constants
    with _balances_within_limit(), connection.cursor() as cursor:
        cursor.execute(sql, [*params, adapt(timezone.now(), "datetime"), shop.pk])


def member_order_span_set(*, shop: Shop, member_id: int, first_at: datetime | None, last_at: datetime | None) -> None:
    """Set a member's first/last order time outright: when an order stops counting, the orders app recomputes the
    range from the orders that still count (the member row is already locked by member_aggregates_apply)."""
    Member.objects.filter(shop=shop, pk=member_id).update(
        first_order_at=first_at, last_order_at=last_at, updated_at=timezone.now()
    )


def member_windows_refresh(*, shop: Shop, counted_statuses: Collection[str], now: datetime | None = None) -> int:
    """Recompute every member's rolling 12-month spend and order count from the orders (amount less refunds, and
    the number, of the orders in `counted_statuses` paid within WINDOW_12M before `now`), in two set-based
    statements that only touch members whose figures changed. Orders keep the figures current between runs; this
    ages out what left the window. Returns the number of members updated.

    The orders app sits above members: its task passes the statuses that count (orders.COUNTED_STATUSES), and the
    statements read its table by name."""
    now = now or timezone.now()
    since = adapt(now - WINDOW_12M, "datetime")
    counted = list(counted_statuses)
    status_in = ", ".join(["%s"] * len(counted))
    window = f"o.shop_id = %s AND o.paid_at >= %s AND o.status IN ({status_in})"
    with transaction.atomic(), connection.cursor() as cursor:
        updated = execute_counted(
            cursor,
            f"""UPDATE members_member AS m SET spend_12m = w.spend, orders_12m = w.cnt
                FROM (SELECT o.shop_id, o.member_id, SUM(o.amount - o.refunded_amount) AS spend, COUNT(*) AS cnt
                      FROM orders_order o WHERE {window} AND o.member_id IS NOT NULL
                      GROUP BY o.shop_id, o.member_id) AS w
                WHERE m.shop_id = w.shop_id AND m.id = w.member_id
                AND (m.spend_12m <> w.spend OR m.orders_12m <> w.cnt)""",  # noqa: S608
            [shop.pk, since, *counted],
        )
        return updated + execute_counted(
            cursor,
            f"""UPDATE members_member AS m SET spend_12m = 0, orders_12m = 0
                WHERE m.shop_id = %s AND (m.spend_12m <> 0 OR m.orders_12m <> 0)
                AND NOT EXISTS (SELECT 1 FROM orders_order o
                                WHERE o.shop_id = m.shop_id AND o.member_id = m.id AND {window})""",  # noqa: S608
            [shop.pk, shop.pk, since, *counted],
        )


def member_points_add(*, shop: Shop, member_id: int, points: int) -> None:
    """Add `points` (a debit: less than zero) to one member's points_balance. For points.services, which has
    locked the row and checked the balance and MAX_BALANCE, in the transaction that writes the entry and its
    lots; the balance's CheckConstraints are the last line of defence. updated_at is left alone (see above)."""
    Member.objects.filter(shop=shop, pk=member_id).update(points_balance=F("points_balance") + points)


def member_counters_add(*, shop: Shop, column: str, deltas: dict[int, int]) -> None:
    """Add deltas to one cached ledger balance of members (COUNTER_COLUMNS), in one UPDATE after locking the rows
    in primary-key order. Must run inside the transaction that writes the ledger entries; the balances'
    CheckConstraints refuse a result below zero, and above MAX_BALANCE as BalanceLimit."""
    deltas = {pk: delta for pk, delta in deltas.items() if delta}
    if not deltas:
        return
    assert column in COUNTER_COLUMNS
    _lock(shop=shop, ids=sorted(deltas))
    cte, params = values_cte("v", [("id", "int"), ("delta", "int")], sorted(deltas.items()))
    with _balances_within_limit(), connection.cursor() as cursor:
        cursor.execute(
            f"""{cte} UPDATE members_member AS m SET {column} = m.{column} + v.delta, updated_at = %s
                FROM v WHERE m.id = v.id AND m.shop_id = %s""",  # noqa: S608 - the column is one of COUNTER_COLUMNS
            [*params, adapt(timezone.now(), "datetime"), shop.pk],
        )


def member_counters_subtract(*, shop: Shop, column: str, totals_sql: str, params: list) -> None:
    """Lower one cached ledger balance of members (COUNTER_COLUMNS) by the totals of `totals_sql` (a SELECT of
    shop_id, member_id, total, run with `params`), in one UPDATE ... FROM, so that a ledger change computed in the
    database (the nightly expiry of points) never passes through Python. The caller has locked the rows in
    primary-key order and writes the entries in the same transaction; a result below zero is an IntegrityError
    (the balances' CheckConstraint). updated_at is left alone, as member_points_add leaves it."""
    assert column in COUNTER_COLUMNS
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE members_member AS m SET {column} = m.{column} - d.total
                FROM ({totals_sql}) AS d
                WHERE m.shop_id = d.shop_id AND m.id = d.member_id AND m.shop_id = %s""",  # noqa: S608 - from code
            [*params, shop.pk],
        )


def member_tier_set(*, shop: Shop, member_id: int, tier_id: int | None, until: datetime | None, now: datetime) -> None:
    """Put one member on a tier (None: the rank-0 tier) until `until` (None: never lowered). For tiers.services,
    which has locked the row, decided the change and writes its TierChange in the same transaction."""
    Member.objects.filter(shop=shop, pk=member_id).update(tier_id=tier_id, tier_until=until, updated_at=now)


def members_tiers_update_sql(*, source: str, alias: str, at: str, guarded: bool, returning: str = "") -> str:
    """The UPDATE that moves members to the tiers the tier evaluation decided, for tiers.evaluation to run in its
    own statement: on PostgreSQL the moves and their history rows are one statement (this UPDATE is one of its
    data-modifying CTEs), so the write cannot be a call of its own without a statement more per evaluation, and
    per batch of orders that upgrades its buyers.

    `source` is the FROM item (a CTE or a table, `alias` naming it) with a row per member to move: shop_id, id,
    new_tier and new_until; with `guarded`, also old_tier and old_until, the values it decided from: a member
    whose tier changed meanwhile (a concurrent upgrade) is then left to the next run. `at` is the placeholder of
    the time stamped into updated_at; `returning`, expressions returned after the member's id (PostgreSQL)."""
    sql = (
        f"UPDATE members_member AS m SET tier_id = {alias}.new_tier, tier_until = {alias}.new_until, "  # noqa: S608
        f"updated_at = {at} FROM {source} WHERE m.shop_id = {alias}.shop_id AND m.id = {alias}.id"
    )
    if guarded:
        sql += (
            f" AND m.tier_id IS NOT DISTINCT FROM {alias}.old_tier"
            f" AND m.tier_until IS NOT DISTINCT FROM {alias}.old_until"
        )
    if returning:
        sql += f" RETURNING m.id, {returning}"
    return sql
