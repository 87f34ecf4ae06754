"""The tier engine (SPEC 7): which tier each member qualifies for, and the evaluation that moves them, set-based.

A member's figures over a window are summed from the facts: spend = amount - refunded over the orders that count
(orders.models.COUNTED_STATUSES), orders = their number, growth = the sum of the growth ledger. The qualified rank
q is the highest rank whose thresholds are met; at time `now`, a member holding rank c (NULL tier: 0) is

- upgraded when q > c (the new tier is kept `retention_months` calendar months from now);
- downgraded to q when q < c and the retention period is over (tier_until <= now);
- renewed (kept another retention period, no history row) when q >= c > 0 and the period is over;
- otherwise left alone: tier_until NULL above rank 0 is a manual assignment without end, never lowered.

Every statement is built from the shop's tiers with the thresholds and datetimes as parameters (datetimes
computed here, so that SQLite runs the same SQL), and runs over all the selected members at once: one pass over
the orders with one CASE per window, one over the growth entries, one UPDATE guarded by the values it decided
from (a member changed meanwhile by an order is left to the next run), and the history rows from what was updated.
"""

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.utils import timezone

from events.dispatch import nudge_on_commit
from events.outbox import insert_select_sql
from events.types import EventType
from members.figures import members_tiers_update_sql
from members.models import Member, MemberStatus
from orders.models import COUNTED_STATUSES
from shops.bulk import adapt, in_condition, models_select
from shops.models import Shop
from shops.time import add_months, day_start, local_date, local_today, shop_zone

from .models import ChangeReason, Combine, EvaluationMode, Tier, TierEvaluation, Window
from .rules import RETIRED_RANK, TierSpec, tier_ladder_validate, window_start

WINDOW_SUFFIX = {Window.LIFETIME: "life", Window.ROLLING_12M: "12m", Window.CALENDAR_YEAR: "year"}
# Writers stamp Member.updated_at when their transaction starts and may commit after a run has read the members:
# the incremental run looks again at rows changed this long before the previous run started.
OVERLAP = timedelta(minutes=15)
SYSTEM_ACTOR = "system"
RENEW = "renew"  # a decision that writes no history row


class _Params:
    """Named parameters collected while a statement is composed: `p(value)` returns its placeholder."""

    def __init__(self):
        self.values: dict = {}

    def __call__(self, value, kind: str | None = None) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = adapt(value, kind) if kind else value
        return f"%({name})s"


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _distinct() -> str:
    # IS DISTINCT FROM arrived in SQLite 3.39; IS NOT means the same there (NULL-safe) since long before.
    return "IS DISTINCT FROM" if _postgres() else "IS NOT"


def _settle_for_a_large_read() -> None:
    """PostgreSQL settings for the rest of the transaction, when a statement reads every order of a shop: its many
    CASE expressions made JIT compilation cost seconds (measured: 5 s of 20 s at a million members) and save
    nothing, and hashing a million members' aggregates needs more than the default 4MB of work_mem (else the
    planner sorts, or spills to disk). SQLite has neither."""
    if _postgres():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # tenant-ok: a setting of this transaction, no rows
            cursor.execute("SET LOCAL work_mem = '256MB'")  # tenant-ok: a setting of this transaction, no rows


def _money_sum(expr: str) -> str:
    # SQLite holds decimals as floats: round the sum to cents so that 499.99 + 0.01 reaches 500.
    return f"SUM({expr})" if _postgres() else f"ROUND(SUM({expr}), 2)"


def ids_condition(p: _Params, column: str, ids: Iterable[int]) -> str:
    """shops.bulk.in_condition for a statement composed with named parameters (`p`)."""
    condition, params = in_condition(column, sorted(set(ids)))
    return condition % tuple(p(value) for value in params)


def _needs(specs: list[TierSpec]) -> tuple[dict[str, set[str]], set[str]]:
    """The figures the ladder reads: {window: {"spend", "orders"}} from orders, and the growth windows."""
    orders: dict[str, set[str]] = {}
    growth: set[str] = set()
    for spec in specs:
        if not spec.qualifies_automatically:
            continue
        if spec.min_spend is not None:
            orders.setdefault(spec.window, set()).add("spend")
        if spec.min_orders is not None:
            orders.setdefault(spec.window, set()).add("orders")
        if spec.min_growth is not None:
            growth.add(spec.window)
    return orders, growth


def _lower_bound(windows: Iterable[str], starts: dict[str, datetime | None]) -> datetime | None:
    """The earliest start among the windows (None when one of them is the lifetime): rows before it count nowhere."""
    bounds = [starts[w] for w in windows]
    return None if None in bounds else min(bounds)


def _orders_agg(p: _Params, *, shop: Shop, needs: dict, starts: dict, member_filter: Callable | None) -> str:
    """One pass over the members' counted orders: spend and count per window (a CASE per window)."""
    lower = _lower_bound(needs, starts)
    value = "o.amount - o.refunded_amount"
    columns = []
    for window in sorted(needs):
        start, suffix = starts[window], WINDOW_SUFFIX[window]
        inside = f"o.paid_at >= {p(start, 'datetime')}" if start is not None and start != lower else None
        if "spend" in needs[window]:
            summed = f"CASE WHEN {inside} THEN {value} ELSE 0 END" if inside else value
            columns.append(f"{_money_sum(summed)} AS spend_{suffix}")
        if "orders" in needs[window]:
            counted = f"SUM(CASE WHEN {inside} THEN 1 ELSE 0 END)" if inside else "COUNT(*)"
            columns.append(f"{counted} AS orders_{suffix}")
    statuses = ", ".join(p(str(status)) for status in COUNTED_STATUSES)
    where = [f"o.shop_id = {p(shop.pk)}", "o.member_id IS NOT NULL", f"o.status IN ({statuses})"]
    if lower is not None:
        where.append(f"o.paid_at >= {p(lower, 'datetime')}")
    if member_filter:
        where.append(member_filter(p, "o.member_id"))
    return (
        f"SELECT o.shop_id, o.member_id, {', '.join(columns)} FROM orders_order o "  # noqa: S608 - columns from code
        f"WHERE {' AND '.join(where)} GROUP BY o.shop_id, o.member_id"
    )


def _growth_agg(p: _Params, *, shop: Shop, windows: set, starts: dict, member_filter: Callable | None) -> str:
    lower = _lower_bound(windows, starts)
    columns = []
    for window in sorted(windows):
        start, suffix = starts[window], WINDOW_SUFFIX[window]
        if start is not None and start != lower:
            columns.append(
                f"SUM(CASE WHEN g.created_at >= {p(start, 'datetime')} THEN g.value ELSE 0 END) AS growth_{suffix}"
            )
        else:
            columns.append(f"SUM(g.value) AS growth_{suffix}")
    where = [f"g.shop_id = {p(shop.pk)}"]
    if lower is not None:
        where.append(f"g.created_at >= {p(lower, 'datetime')}")
    if member_filter:
        where.append(member_filter(p, "g.member_id"))
    return (
        f"SELECT g.shop_id, g.member_id, {', '.join(columns)} FROM tiers_growthentry g "  # noqa: S608 - from code
        f"WHERE {' AND '.join(where)} GROUP BY g.shop_id, g.member_id"
    )


def _qualified_rank(p: _Params, specs: list[TierSpec]) -> str:
    """CASE giving the highest rank whose thresholds are met (0 when none is)."""
    whens = []
    for spec in sorted(specs, key=lambda s: s.rank, reverse=True):
        if not spec.qualifies_automatically:
            continue
        suffix = WINDOW_SUFFIX[spec.window]
        tests = []
        if spec.min_spend is not None:
            tests.append(f"COALESCE(a.spend_{suffix}, 0) >= CAST({p(spec.min_spend, 'decimal')} AS NUMERIC)")
        if spec.min_orders is not None:
            tests.append(f"COALESCE(a.orders_{suffix}, 0) >= {p(spec.min_orders)}")
        if spec.min_growth is not None:
            tests.append(f"COALESCE(g.growth_{suffix}, 0) >= {p(spec.min_growth)}")
        joined = (" AND " if spec.combine == Combine.ALL else " OR ").join(f"({test})" for test in tests)
        whens.append(f"WHEN {joined} THEN {int(spec.rank)}")
    return f"CASE {' '.join(whens)} ELSE 0 END" if whens else "0"


def _rank_of_tier(p: _Params, column: str, ranks: dict[int, int]) -> str:
    """CASE mapping a tier id column to its rank (NULL, the rank-0 tier and unknown ids: 0)."""
    whens = [f"WHEN {p(tier_id)} THEN {int(rank)}" for tier_id, rank in sorted(ranks.items()) if rank > 0]
    return f"CASE {column} {' '.join(whens)} ELSE 0 END" if whens else "0"


def _by_rank(p: _Params, rank_sql: str, values: dict[int, object], *, kind: str | None, null: str) -> str:
    """CASE mapping a rank expression to a value per rank (ranks missing from `values`: NULL of type `null`)."""
    whens = [f"WHEN {int(rank)} THEN {p(value, kind)}" for rank, value in sorted(values.items()) if value is not None]
    return f"CASE {rank_sql} {' '.join(whens)} ELSE CAST(NULL AS {null}) END" if whens else f"CAST(NULL AS {null})"


def members_ctes(
    p: _Params,
    *,
    shop: Shop,
    specs: list[TierSpec],
    current_ranks: dict[int, int],
    now: datetime,
    member_filter: Callable | None = None,
    carry: tuple[str, ...] = (),
) -> str:
    """The CTEs a (orders), g (growth) and d: one row per live member selected, with its shop_id, its tier
    (old_tier, old_until), current rank c (from `current_ranks`: tier id -> rank) and qualified rank q under
    `specs`, plus the member columns named in `carry` (names from code, never from input). Each CTE carries
    shop_id and every join between them names it, so that a database distributed by shop (shops.distribution)
    runs the statement on the shop's node."""
    zone = shop_zone(shop)
    starts = {window: window_start(window, now=now, zone=zone) for window in Window.values}
    orders_needs, growth_needs = _needs(specs)
    ctes, joins = [], []
    if orders_needs:
        ctes.append(
            f"a AS ({_orders_agg(p, shop=shop, needs=orders_needs, starts=starts, member_filter=member_filter)})"
        )
        joins.append("LEFT JOIN a ON a.shop_id = m.shop_id AND a.member_id = m.id")
    if growth_needs:
        ctes.append(
            f"g AS ({_growth_agg(p, shop=shop, windows=growth_needs, starts=starts, member_filter=member_filter)})"
        )
        joins.append("LEFT JOIN g ON g.shop_id = m.shop_id AND g.member_id = m.id")
    where = [f"m.shop_id = {p(shop.pk)}", f"m.status <> {p(str(MemberStatus.ERASED))}"]
    if member_filter:
        where.append(member_filter(p, "m.id"))
    carried = "".join(f"m.{column}, " for column in carry)
    ctes.append(
        f"d AS (SELECT m.shop_id, m.id, m.tier_id AS old_tier, m.tier_until AS old_until, {carried}"  # noqa: S608
        f"{_rank_of_tier(p, 'm.tier_id', current_ranks)} AS c, {_qualified_rank(p, specs)} AS q "
        f"FROM members_member m {' '.join(joins)} WHERE {' AND '.join(where)})"
    )
    return ",\n".join(ctes)


def _decision(p: _Params, decide: str, *, now: datetime) -> str:
    if decide == "upgrade":
        return "CASE WHEN d.q > d.c THEN 'upgrade' END"
    if decide == "policy":
        return "'policy'"
    over = f"d.old_until IS NOT NULL AND d.old_until <= {p(now, 'datetime')}"
    return (
        f"CASE WHEN d.q > d.c THEN 'upgrade' WHEN d.q < d.c AND {over} THEN 'downgrade' "
        f"WHEN d.c > 0 AND {over} THEN '{RENEW}' END"
    )


def _move(
    *,
    shop: Shop,
    specs: list[TierSpec],
    current_ranks: dict[int, int],
    now: datetime,
    decide: str,
    member_filter: Callable | None = None,
    actor: str = SYSTEM_ACTOR,
) -> Counter:
    """Decide and write the selected members' tiers (decide: "full", "upgrade" or "policy": move to q) and their
    history rows. Returns the number of history rows per reason."""
    zone = shop_zone(shop)
    p = _Params()
    ctes = members_ctes(p, shop=shop, specs=specs, current_ranks=current_ranks, now=now, member_filter=member_filter)
    tier_of = {s.rank: s.tier_id for s in specs if s.rank > 0}
    until_of = {s.rank: add_months(zone, now, s.retention_months) for s in specs if s.rank > 0}
    reason = "r.reason"
    if decide == "full":
        # A downgrade that ends a manual assignment says so (the member's latest change was made by hand).
        latest = (
            "(SELECT tc.reason FROM tiers_tierchange tc WHERE tc.shop_id = r.shop_id "
            "AND tc.member_id = r.id ORDER BY tc.changed_at DESC, tc.id DESC LIMIT 1)"
        )
        reason = (
            f"CASE WHEN r.reason = 'downgrade' AND {latest} = '{ChangeReason.MANUAL.value}' "
            f"THEN '{ChangeReason.MANUAL_ENDED.value}' ELSE r.reason END"
        )
    new_tier = _by_rank(p, "r.q", tier_of, kind=None, null="BIGINT")
    new_until = _by_rank(p, "r.q", until_of, kind="datetime", null="TIMESTAMP WITH TIME ZONE")
    kept_until = _by_rank(p, "r.c", until_of, kind="datetime", null="TIMESTAMP WITH TIME ZONE")
    distinct = _distinct()
    select = f"""WITH {ctes},
        r AS (SELECT d.shop_id, d.id, d.old_tier, d.old_until, d.c, d.q, {_decision(p, decide, now=now)} AS reason
            FROM d),
        ch AS (
            SELECT r.shop_id, r.id, r.old_tier, r.old_until,
                CASE WHEN r.c = 0 THEN NULL ELSE r.old_tier END AS from_tier,
                {reason} AS reason,
                CASE WHEN r.reason = '{RENEW}' THEN r.old_tier ELSE {new_tier} END AS new_tier,
                CASE WHEN r.reason = '{RENEW}' THEN {kept_until} ELSE {new_until} END AS new_until
            FROM r WHERE r.reason IS NOT NULL),
        chg AS (
            SELECT * FROM ch WHERE ch.new_tier {distinct} ch.old_tier OR ch.new_until {distinct} ch.old_until)"""  # noqa: S608
    at, shop_id, note_p, actor_p = p(now, "datetime"), p(shop.pk), p(""), p(actor[:200])
    history_columns = "shop_id, member_id, from_tier_id, to_tier_id, reason, note, actor, changed_at"
    with connection.cursor() as cursor:
        if _postgres():
            # One statement: the update (members.figures' own) returns what it changed (with the values decided
            # from) and the history rows are inserted from that, in a data-modifying CTE.
            update = members_tiers_update_sql(
                source="chg", alias="chg", at=at, guarded=True, returning="chg.from_tier, chg.new_tier, chg.reason"
            )
            cursor.execute(
                f"""{select},
                u AS ({update}),
                h AS (
                    INSERT INTO tiers_tierchange ({history_columns})
                    SELECT {shop_id}, u.id, u.from_tier, u.new_tier, u.reason, {note_p}, {actor_p}, {at}
                    FROM u WHERE u.reason <> '{RENEW}'
                    RETURNING id, member_id, from_tier_id, to_tier_id, reason),
                e AS ({_changed_events(shop, source="h", at=at)})
                SELECT reason, COUNT(*) FROM h GROUP BY reason""",  # noqa: S608 - SQL from code, values as parameters
                p.values,
            )
            nudge_on_commit(shop.pk)
            return Counter(dict(cursor.fetchall()))
        # SQLite (3.33+: UPDATE ... FROM, no RETURNING before 3.35): the decisions go to a temporary table that
        # the update and the history insert then read, in the caller's transaction.
        cursor.execute("DROP TABLE IF EXISTS temp.tier_moves")  # tenant-ok: this connection's temporary table
        cursor.execute(
            f"CREATE TEMP TABLE tier_moves AS {select} "  # noqa: S608
            "SELECT shop_id, id, from_tier, reason, new_tier, new_until FROM chg",
            p.values,
        )
        # tenant-ok: the members in tier_moves, which the statement above chose from this shop's
        cursor.execute(
            members_tiers_update_sql(source="temp.tier_moves AS t", alias="t", at=at, guarded=False), p.values
        )
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM tiers_tierchange")  # tenant-ok: SQLite, this process only
        [last] = cursor.fetchone()
        cursor.execute(
            f"INSERT INTO tiers_tierchange ({history_columns}) "  # noqa: S608
            f"SELECT {shop_id}, t.id, t.from_tier, t.new_tier, t.reason, {note_p}, {actor_p}, {at} "
            f"FROM temp.tier_moves AS t WHERE t.reason <> '{RENEW}'",
            p.values,
        )
        # SQLite writes one transaction at a time: the rows after the last id before the insert are this one's.
        source = f"tiers_tierchange h WHERE h.shop_id = {shop_id} AND h.id > {int(last)}"  # noqa: S608
        cursor.execute(_changed_events(shop, source=source, at=at), p.values)
        nudge_on_commit(shop.pk)
        # tenant-ok: this connection's temporary table, of this shop's members
        cursor.execute("SELECT reason, COUNT(*) FROM temp.tier_moves WHERE reason <> 'renew' GROUP BY reason")
        moved = Counter(dict(cursor.fetchall()))
        cursor.execute("DROP TABLE temp.tier_moves")  # tenant-ok: this connection's temporary table
        return moved


def _changed_events(shop: Shop, *, source: str, at: str) -> str:
    """The tier.changed events of the history rows `source` (aliased h) just written."""
    payload = {
        "change_id": "h.id",
        "from_tier_id": "h.from_tier_id",
        "to_tier_id": "h.to_tier_id",
        "reason": "h.reason",
    }
    return insert_select_sql(
        shop_id=shop.pk,
        type=EventType.TIER_CHANGED,
        source=source,
        member="h.member_id",
        payload=payload,
        occurred_at=at,
    )


def ladder_tiers(*, shop: Shop, lock: bool = False) -> list[Tier]:
    """The shop's ladder (retired tiers left out), by rank. With lock=True, evaluations and ladder changes of the
    shop queue behind each other (FOR NO KEY UPDATE: members may still be pointed at the tiers meanwhile)."""
    tiers = Tier.objects.filter(shop=shop, rank__lt=RETIRED_RANK).order_by("rank")
    return list(tiers.select_for_update(no_key=True) if lock else tiers)


def _specs(tiers: list[Tier]) -> tuple[list[TierSpec], dict[int, int]]:
    return [TierSpec.of(t) for t in tiers], {t.pk: t.rank for t in tiers}


def changed_members(*, shop: Shop, specs: list[TierSpec], last: datetime, now: datetime) -> list[int]:
    """The live members whose tier may have to change between the run at `last` and `now`: those whose row changed
    since (orders, refunds and cancellations change the member's aggregates and updated_at in their transaction;
    so do ledger postings, manual assignments and tier moves), whose retention period ends in [last, now], and,
    when the ladder reads growth value, who earned some since.

    Everyone else is left where a full run would leave them. After a run, no member qualifies above their rank
    (else the run upgraded them) and every retention period runs to `last` or later (the run renewed or lowered
    those that ended). Without new facts a member's figures can only fall (orders and growth leave the rolling
    window; the calendar year is handled by a full run), so they earn no upgrade, and with a retention period
    still running nothing may lower them. Orders leaving the 12-month window therefore need no look of their own:
    they matter only once the period ends, and that member is selected then."""
    p = _Params()
    since = p(last - OVERLAP, "datetime")
    shop_id = p(shop.pk)
    reasons = [
        f"m.updated_at > {since}",
        f"(m.tier_until >= {p(last, 'datetime')} AND m.tier_until <= {p(now, 'datetime')})",
    ]
    if _needs(specs)[1]:
        reasons.append(
            f"m.id IN (SELECT g.member_id FROM tiers_growthentry g WHERE g.shop_id = {shop_id} "  # noqa: S608
            f"AND g.created_at > {since})"
        )
    sql = (
        f"SELECT m.id FROM members_member m WHERE m.shop_id = {shop_id} "  # noqa: S608 - SQL from code
        f"AND m.status <> {p(str(MemberStatus.ERASED))} AND ({' OR '.join(reasons)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, p.values)
        return [row[0] for row in cursor.fetchall()]


def _year_crossed(shop: Shop, last: datetime, now: datetime) -> bool:
    return local_date(shop, last).year != local_date(shop, now).year


@transaction.atomic
def tiers_evaluate(*, shop: Shop, mode: str = EvaluationMode.FULL, now: datetime | None = None) -> TierEvaluation:
    """The periodic evaluation: upgrades, downgrades after retention and renewals, recorded as one TierEvaluation.

    mode=INCREMENTAL looks only at the members whose figures or retention may have changed since the shop's last
    run (changed_members) and gives the result a full run would; it runs in full when there is no earlier run, or
    a new calendar year has begun in the shop's time zone since (the year window starts afresh), and the record
    says which mode ran. Idempotent: a second run at the same time changes nothing. Erased members are never
    evaluated."""
    now = now or timezone.now()
    _settle_for_a_large_read()
    tiers = ladder_tiers(shop=shop, lock=True)
    specs, current = _specs(tiers)
    member_ids = None
    if mode == EvaluationMode.INCREMENTAL:
        last = (
            TierEvaluation.objects.filter(shop=shop)
            .order_by("-started_at")
            .values_list("started_at", flat=True)
            .first()
        )
        if last is None or last > now or _year_crossed(shop, last, now):
            mode = EvaluationMode.FULL
        else:
            member_ids = changed_members(shop=shop, specs=specs, last=last, now=now)
    evaluation = TierEvaluation.objects.create(shop=shop, mode=mode, started_at=now)
    if member_ids is None:
        evaluation.members_checked = Member.objects.filter(shop=shop).exclude(status=MemberStatus.ERASED).count()
        moved = _move(shop=shop, specs=specs, current_ranks=current, now=now, decide="full")
    else:
        evaluation.members_checked = len(member_ids)
        moved = (
            _move(
                shop=shop,
                specs=specs,
                current_ranks=current,
                now=now,
                decide="full",
                member_filter=lambda p, column: ids_condition(p, column, member_ids),
            )
            if member_ids
            else Counter()
        )
    evaluation.upgraded = moved[ChangeReason.UPGRADE]
    evaluation.downgraded = moved[ChangeReason.DOWNGRADE] + moved[ChangeReason.MANUAL_ENDED]
    evaluation.finished_at = timezone.now()
    evaluation.save(update_fields=["members_checked", "upgraded", "downgraded", "finished_at"])
    return evaluation


def ladder_for_orders(*, shop: Shop) -> list[Tier]:
    """ladder_tiers (without lock), written out: recording an order reads the ladder for the points multiplier
    and hands it to tiers_upgrade_members, and the ORM compiling the query was a millisecond of CPU per order."""
    return models_select(Tier, 'shop_id = %s AND "rank" < %s', [shop.pk, RETIRED_RANK], order_by='"rank"')


def _may_rise(specs: list[TierSpec], current: dict[int, int], bounds: dict) -> bool:
    """Whether a member whose figures are at most `bounds` (tier_id, lifetime_spend, order_count, spend_12m,
    orders_12m, growth_value) could qualify above the rank they hold. Every threshold is a lower bound on a figure
    (the rank is monotone in the figures), so a tier out of reach at the bounds is out of reach.

    The cached figures bound the windows' sums: an order's amount less refunds is never negative, so lifetime
    spend and count bound every window; spend_12m/orders_12m were computed (orders.services) with the window
    that rolling_12m uses and only lose orders when member_windows_refresh ages them out, so they bound it; a
    growth window's sum is growth_value less the entries before it, whose sum is the (never negative) cached value
    at that time."""
    held = current.get(bounds["tier_id"], 0)
    for spec in specs:
        if spec.rank <= held or not spec.qualifies_automatically:
            continue
        recent = spec.window == Window.ROLLING_12M
        spend = bounds["spend_12m"] if recent else bounds["lifetime_spend"]
        orders = bounds["orders_12m"] if recent else bounds["order_count"]
        tests = [
            figure >= threshold
            for figure, threshold in (
                (spend, spec.min_spend),
                (orders, spec.min_orders),
                (bounds["growth_value"], spec.min_growth),
            )
            if threshold is not None
        ]
        if all(tests) if spec.combine == Combine.ALL else any(tests):
            return True
    return False


@transaction.atomic(savepoint=False)
def tiers_upgrade_members(
    *,
    shop: Shop,
    member_ids: Iterable[int],
    now: datetime | None = None,
    tiers: list[Tier] | None = None,
    bounds: dict[int, dict] | None = None,
) -> int:
    """Upgrade at once the given members who now qualify for a higher tier (never lowers one). Called by the
    service that records an order, in its transaction, once the orders and their growth entries are written: it
    reads the members' orders through the (shop, member, paid_at) index. `tiers` is the ladder when the caller has it
    (ladder_tiers); with `bounds` ({member id: upper bounds of their figures, see _may_rise}), members who cannot
    reach a higher tier are left out before any query. Returns the number of members upgraded."""
    member_ids = list(member_ids)
    if not member_ids:
        return 0
    specs, current = _specs(ladder_tiers(shop=shop) if tiers is None else tiers)
    if bounds is not None:
        member_ids = [pk for pk in member_ids if pk not in bounds or _may_rise(specs, current, bounds[pk])]
    if not member_ids or not any(spec.qualifies_automatically for spec in specs):
        return 0
    moved = _move(
        shop=shop,
        specs=specs,
        current_ranks=current,
        now=now or timezone.now(),
        decide="upgrade",
        member_filter=lambda p, column: ids_condition(p, column, member_ids),
    )
    return moved[ChangeReason.UPGRADE]


def tiers_move_holders(
    *,
    shop: Shop,
    specs: list[TierSpec],
    current_ranks: dict[int, int],
    tier_ids: list[int],
    now: datetime,
    actor: str,
) -> int:
    """Move the members holding the tiers `tier_ids` (being removed from the ladder) to the highest rank they
    qualify for under `specs`, with reason policy. Returns the number moved."""
    if not tier_ids:
        return 0
    _settle_for_a_large_read()

    def holding(p: _Params, column: str) -> str:
        held = ids_condition(p, "h.tier_id", tier_ids)
        return f"{column} IN (SELECT h.id FROM members_member h WHERE h.shop_id = {p(shop.pk)} AND {held})"  # noqa: S608

    moved = _move(
        shop=shop,
        specs=specs,
        current_ranks=current_ranks,
        now=now,
        decide="policy",
        member_filter=holding,
        actor=actor,
    )
    return moved[ChangeReason.POLICY]


def _whole_points(amount: Decimal | int) -> int:
    return int(Decimal(amount).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def tier_policy_preview(
    *, shop: Shop, ladder: list[dict], on: date | None = None, points_per_unit: Decimal = Decimal(1)
) -> dict:
    """What applying `ladder` would do, without writing: how many members would move up and down and how many
    would hold each tier, by the statement the evaluation runs with the proposed thresholds. Members of ranks the
    ladder drops go to the highest rank they qualify for; the others are evaluated as the full run after the
    change evaluates them (retention respected). `on` (a date in the shop's time zone, default today) previews the
    change as applied at the start of that day, with the orders recorded so far.

    The same statement sums, per (rank held, rank after), the members' spend over the last 12 months (the cached
    Member.spend_12m) and their points balance, for the effect on points liability: the points a year like the last
    one would earn under the current and the proposed ladder (spend x `points_per_unit`, the points program's base
    rate, which the caller reads since points sits above tiers, x the tier's points multiplier; bonuses, exclusions
    and caps left out; rounded half up to whole points per tier), and the balance held by members moving up or
    down.

    Returns {"on", "members", "up", "down", "spend_12m", "points_per_unit", "points_per_year": {"before",
    "after"}, "balance": {"total", "up", "down"}, "tiers": [{"rank", "name", "before", "after", "points_before",
    "points_after"}], "removed": [{"rank", "name", "members", "points_before"}]}. Raises InvalidLadder."""
    cleaned = tier_ladder_validate(ladder)
    zone = shop_zone(shop)
    now = timezone.now()
    today = local_today(zone, now)
    if on is not None and on > today:
        now = day_start(zone, on)
    current_tiers = ladder_tiers(shop=shop)
    specs = [TierSpec.of(tier) for tier in cleaned]
    top = len(cleaned) - 1
    p = _Params()
    ctes = members_ctes(
        p,
        shop=shop,
        specs=specs,
        current_ranks={t.pk: t.rank for t in current_tiers},
        now=now,
        carry=("spend_12m", "points_balance"),
    )
    final = (
        f"CASE WHEN d.c > {top} THEN d.q WHEN d.q > d.c THEN d.q "
        f"WHEN d.q < d.c AND d.old_until IS NOT NULL AND d.old_until <= {p(now, 'datetime')} THEN d.q ELSE d.c END"
    )
    sql = (
        f"WITH {ctes} SELECT d.c, {final}, COUNT(*), {_money_sum('d.spend_12m')}, "  # noqa: S608 - SQL from code
        "SUM(d.points_balance) FROM d GROUP BY 1, 2"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        _settle_for_a_large_read()
        cursor.execute(sql, p.values)
        rows = [
            (held, final_rank, count, Decimal(str(spend or 0)), int(balance or 0))
            for held, final_rank, count, spend, balance in cursor.fetchall()
        ]
    multiplier_now = {t.rank: t.points_multiplier for t in current_tiers}
    multiplier_after = {t["rank"]: t["points_multiplier"] for t in cleaned}
    before, after = Counter(), Counter()
    earn_before, earn_after = Counter(), Counter()  # exact points a year, by rank
    moved = {"up": Counter(), "down": Counter()}  # members and their balance
    for held, final_rank, count, spend, balance in rows:
        before[held] += count
        after[final_rank] += count
        earn_before[held] += spend * points_per_unit * multiplier_now.get(held, Decimal(1))
        earn_after[final_rank] += spend * points_per_unit * multiplier_after[final_rank]
        if final_rank != held:
            moved["up" if final_rank > held else "down"].update(members=count, balance=balance)
    tiers = [
        {
            "rank": t["rank"],
            "name": t["name"],
            "before": before[t["rank"]],
            "after": after[t["rank"]],
            "points_before": _whole_points(earn_before[t["rank"]]),
            "points_after": _whole_points(earn_after[t["rank"]]),
        }
        for t in cleaned
    ]
    removed = [
        {"rank": t.rank, "name": t.name, "members": before[t.rank], "points_before": _whole_points(earn_before[t.rank])}
        for t in current_tiers
        if t.rank > top
    ]
    return {
        "on": on or today,
        "members": sum(before.values()),
        "up": moved["up"]["members"],
        "down": moved["down"]["members"],
        "spend_12m": sum((row[3] for row in rows), Decimal(0)).quantize(Decimal("0.01")),
        "points_per_unit": points_per_unit,
        "points_per_year": {
            "before": sum(t["points_before"] for t in tiers + removed),
            "after": sum(t["points_after"] for t in tiers),
        },
        "balance": {
            "total": sum(row[4] for row in rows),
            "up": moved["up"]["balance"],
            "down": moved["down"]["balance"],
        },
        "tiers": tiers,
        "removed": removed,
    }


def member_figures(*, shop: Shop, member: Member, window: str, now: datetime) -> dict:
    """One member's spend (Decimal), order count and growth value over `window` at `now`, summed as the engine
    sums them (through the (shop, member, ...) indexes). Zeros for an erased member."""
    p = _Params()
    every_figure = TierSpec(1, None, Decimal(0), 0, 0, Combine.ALL, window, 0)
    ctes = members_ctes(
        p,
        shop=shop,
        specs=[every_figure],
        current_ranks={},
        now=now,
        member_filter=lambda p, column: ids_condition(p, column, [member.pk]),
    )
    suffix = WINDOW_SUFFIX[window]
    sql = (
        f"WITH {ctes} SELECT COALESCE(a.spend_{suffix}, 0), COALESCE(a.orders_{suffix}, 0), "  # noqa: S608
        f"COALESCE(g.growth_{suffix}, 0) FROM d LEFT JOIN a ON a.shop_id = d.shop_id AND a.member_id = d.id "
        "LEFT JOIN g ON g.shop_id = d.shop_id AND g.member_id = d.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, p.values)
        row = cursor.fetchone()
    spend, orders, growth = row or (0, 0, 0)
    return {"spend": Decimal(str(spend)).quantize(Decimal("0.01")), "orders": int(orders), "growth": int(growth)}
