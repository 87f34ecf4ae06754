"""What order facts do to points, growth value and tiers: the extension points ORDER_POINTS_AWARD (this module:
orders_award, orders_created), REFUND_CREATED and ORDER_STATUS_CHANGED (shops.extensions, registered in
points.apps), run by orders.services in the transaction that records each fact, only for facts it created, so
replays award nothing twice.

- An order with a member earns points by the shop's rules (points.rules), credited at once or held pending
  until `pending_days` after the order completes, and growth value; then the buyer's tier is upgraded at once if
  the order qualifies.
- A refund or cancellation takes back in proportion: the order keeps floor(points x amount still paid / amount)
  points; pending points are cut, credited ones reversed (as many as the member still has: spent points stay
  spent). Growth value likewise.
System idempotency keys contain "#", which the API refuses in client keys, so the two can never collide.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from events.outbox import emit_many
from members.figures import member_counters_add
from members.models import Member
from orders.models import Order, OrderStatus, Refund
from orders.services import CreatedOrder
from shops.bulk import insert_rows, rows_source
from shops.models import Shop
from tiers.evaluation import ladder_for_orders, tiers_upgrade_members
from tiers.growth import GrowthRow, growth_entries_insert, growth_of_order, growth_post_many, growth_totals
from tiers.models import GrowthKind

from .models import EntryKind, PendingAward, PendingState, PointsEntry, PointsProgram
from .rules import Award, ItemFacts, OrderFacts, expiry_for, points_for_order
from .selectors import bonus_rules_of, points_program_of
from .services import points_reverse, posted_event

EARNING_STATUSES = (OrderStatus.PAID, OrderStatus.COMPLETED)


def earn_key(order_external_id: str) -> str:
    return f"order#{order_external_id}"


@dataclass(frozen=True)
class Credit:
    member_id: int
    points: int
    key: str
    order_external_id: str
    earned_at: datetime
    details: dict


ENTRY_COLUMNS = [
    ("shop_id", "int"),
    ("member_id", "int"),
    ("kind", "text"),
    ("points", "int"),
    ("reason", "text"),
    ("order_external_id", "text"),
    ("idempotency_key", "text"),
    ("body_hash", "text"),
    ("actor", "text"),
    ("created_at", "datetime"),
    ("details", "json"),
]
LOT_COLUMNS = [
    ("shop_id", "int"),
    ("entry_id", "int"),
    ("member_id", "int"),
    ("remaining", "int"),
    ("earned_at", "datetime"),
    ("expires_at", "datetime"),
]


def _credit_many(*, shop: Shop, program: PointsProgram, credits: list[Credit], now: datetime) -> Counter:
    """Earn entries and their lots, set-based (one statement on PostgreSQL, two on SQLite, for any number).
    Returns the points credited to each member, which the caller adds to their balances in the same transaction."""
    credits = sorted((c for c in credits if c.points > 0), key=lambda c: c.key)
    if not credits:
        return Counter()
    entries = [
        (shop.pk, c.member_id, EntryKind.EARN, c.points, "", c.order_external_id, c.key, "", "system", now, c.details)
        for c in credits
    ]
    expiries = [expiry_for(program=program, time_zone=shop.time_zone, earned_at=c.earned_at) for c in credits]
    if connection.vendor == "postgresql":
        # The lots join their entries by idempotency key (unique per shop) in a data-modifying CTE.
        source, params = rows_source(
            [*ENTRY_COLUMNS, ("earned_at", "datetime"), ("expires_at", "datetime")],
            [(*entry, c.earned_at, expires) for entry, c, expires in zip(entries, credits, expiries, strict=True)],
        )
        names = ", ".join(name for name, _kind in ENTRY_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""WITH s AS ({source}),
                    e AS (INSERT INTO points_pointsentry ({names}) SELECT {names} FROM s ORDER BY idempotency_key
                          RETURNING id, idempotency_key)
                    INSERT INTO points_pointslot ({", ".join(name for name, _kind in LOT_COLUMNS)})
                    SELECT s.shop_id, e.id, s.member_id, s.points, s.earned_at, s.expires_at
                    FROM e JOIN s USING (idempotency_key)""",  # noqa: S608 - names from code, values as parameters
                params,
            )
    else:
        ids = insert_rows("points_pointsentry", ENTRY_COLUMNS, entries, returning=("id",))
        insert_rows(
            "points_pointslot",
            LOT_COLUMNS,
            [
                (shop.pk, entry_id, c.member_id, c.points, c.earned_at, expires)
                for (entry_id,), c, expires in zip(ids, credits, expiries, strict=True)
            ],
        )
    events = [
        posted_event(
            member_id=c.member_id,
            kind=EntryKind.EARN,
            points=c.points,
            key=c.key,
            order_external_id=c.order_external_id,
        )
        for c in credits
    ]
    emit_many(shop_id=shop.pk, events=events)
    totals = Counter()
    for c in credits:
        totals[c.member_id] += c.points
    return totals


def _facts(created: list[CreatedOrder], members: dict[int, dict]) -> dict[str, OrderFacts]:
    """Each earning order's facts, with its buyer's birthday month and whether it is their first order."""
    earliest = {}
    for c in sorted(created, key=lambda c: (c.data.paid_at, c.data.external_id)):
        earliest.setdefault(c.member_id, c.data.external_id)
    return {
        c.data.external_id: OrderFacts(
            amount=c.data.amount,
            paid_at=c.data.paid_at,
            items=tuple(ItemFacts(i.sku, i.category, i.quantity, i.unit_price) for i in c.data.items),
            # the figures are from before this batch, whose earning orders all count
            first_purchase=members[c.member_id]["order_count"] == 0 and earliest[c.member_id] == c.data.external_id,
            birthday_month=members[c.member_id]["birthday_month"],
        )
        for c in created
    }


def _bounds(members: dict[int, dict], awards: dict[str, tuple[CreatedOrder, Award]]) -> dict[int, dict]:
    """Upper bounds of the buyers' figures after this batch, for tiers_upgrade_members to skip those who cannot
    move up: every order's amount and growth are added to every window (whether it falls inside or not)."""
    bounds = {pk: dict(facts) for pk, facts in members.items()}
    for c, award in awards.values():
        figures = bounds[c.member_id]
        for spend in ("lifetime_spend", "spend_12m"):
            figures[spend] += c.data.amount
        for count in ("order_count", "orders_12m"):
            figures[count] += 1
        figures["growth_value"] += max(award.growth, 0)
    return bounds


@dataclass(frozen=True)
class OrderAwards:
    """What the new orders of a batch earn, computed before they are written (orders_award) and handed back to
    orders_created with the configuration read for it."""

    program: PointsProgram
    rules: list
    tiers: list
    members: dict[int, dict]  # the buyers' figures the awards were computed on
    awards: dict[str, tuple[CreatedOrder, Award]]

    def holds_for(self, created: list[CreatedOrder], members: dict[int, dict]) -> bool:
        """Whether the awards stand for the orders `created`, whose buyers' figures are now `members`: every order
        awarded was created, and no buyer's tier, birthday month or first purchase ahead changed since."""

        def basis(facts: dict) -> tuple:
            return facts["tier_id"], facts["birthday_month"], facts["order_count"] == 0

        return len(created) == len(self.awards) and all(
            basis(self.members[c.member_id]) == basis(members[c.member_id]) for c in created
        )

    @property
    def points(self) -> dict[str, int]:
        return {ext: a.points for ext, (_c, a) in self.awards.items() if a.points}

    @property
    def config(self) -> dict:
        return {"program": self.program, "rules": self.rules, "tiers": self.tiers}


def _award_each(
    orders: list[CreatedOrder],
    members: dict[int, dict],
    *,
    shop: Shop,
    program: PointsProgram,
    rules: list,
    tiers: list,
) -> dict[str, tuple[CreatedOrder, Award]]:
    """Each earning order's award under the program, bonus rules and ladder given, with its buyer's tier and
    figures from `members`."""
    by_id, base = {t.pk: t for t in tiers}, tiers[0]
    facts = _facts(orders, members)
    awards = {}
    for c in orders:
        tier = by_id.get(members[c.member_id]["tier_id"], base)
        order_facts = OrderFacts(
            **{**vars(facts[c.data.external_id]), "tier_name": tier.name, "tier_multiplier": tier.points_multiplier}
        )
        awards[c.data.external_id] = (
            c,
            points_for_order(program=program, bonus_rules=rules, facts=order_facts, time_zone=shop.time_zone),
        )
    return awards


def orders_award(*, shop: Shop, orders: list[CreatedOrder], members: dict[int, dict]) -> OrderAwards | None:
    """The points and growth value that the new orders of a batch earn (None when none earns), before they are
    written. `members` holds the buyers' figures before these orders, as read without a lock
    (members.services.members_for_orders); orders_created checks them."""
    earning = [c for c in orders if c.member_id and c.data.status in EARNING_STATUSES]
    if not earning:
        return None
    config = {
        "program": points_program_of(shop=shop),
        "rules": bonus_rules_of(shop=shop, active=True),
        "tiers": ladder_for_orders(shop=shop),
    }
    return OrderAwards(**config, members=members, awards=_award_each(earning, members, shop=shop, **config))


def orders_created(
    *, shop: Shop, created: list[CreatedOrder], members: dict[int, dict], now: datetime, awarded: OrderAwards | None
) -> tuple[dict[str, int], dict[str, dict[int, int]]]:
    """Credit the points and growth value that orders_award computed, for the orders created, and upgrade their
    buyers. `members` holds the buyers' figures before these orders, read under lock
    (members.figures.members_lock_for_orders).

    Returns the points of orders whose award changed since (rarely: some orders of the batch were not created, a
    replay or a conflict, so a buyer's first purchase may be another; or a concurrent write moved a buyer's tier)
    and what the entries written add to the buyers' cached balances ({column: {member id: delta}}): the caller adds
    those in this transaction, in the one update of each buyer's row that also applies the orders' aggregates."""
    earning = [c for c in created if awarded and c.data.external_id in awarded.awards]
    if not earning:
        return {}, {}
    awards, corrected = awarded.awards, {}
    if not awarded.holds_for(earning, members):
        awards = _award_each(earning, members, shop=shop, **awarded.config)
        corrected = {ext: a.points for ext, (_c, a) in awards.items() if a.points != awarded.awards[ext][1].points}
    program = awarded.program
    counters = {}
    if program.pending_days:
        counters["points_pending"] = _hold_pending(
            shop=shop, awards=list(awards.values()), days=program.pending_days, now=now
        )
    else:
        counters["points_balance"] = _credit_many(
            shop=shop,
            program=program,
            credits=[
                Credit(c.member_id, a.points, earn_key(ext), ext, c.data.paid_at, a.as_details())
                for ext, (c, a) in awards.items()
            ],
            now=now,
        )
    counters["growth_value"] = growth_totals(
        growth_entries_insert(
            shop=shop,
            rows=[
                GrowthRow(c.member_id, a.growth, earn_key(ext), order_external_id=ext) for ext, (c, a) in awards.items()
            ],
            now=now,
        )
    )
    # The tiers qualify on the orders and growth entries written above, which the upgrade reads from their tables.
    tiers_upgrade_members(
        shop=shop,
        member_ids=sorted({c.member_id for c in earning}),
        now=now,
        tiers=awarded.tiers,
        bounds=_bounds(members, awards),
    )
    return corrected, counters


def _hold_pending(*, shop: Shop, awards: list[tuple[CreatedOrder, Award]], days: int, now: datetime) -> Counter:
    """Pending awards, set-based. Returns the points each member has pending now, which the caller adds to their
    cached pending balance in the same transaction."""
    rows = [
        (
            shop.pk,
            c.member_id,
            c.data.external_id,
            a.points,
            c.data.paid_at + timedelta(days=days) if c.data.status == OrderStatus.COMPLETED else None,
            PendingState.PENDING,
            now,
            a.as_details(),
        )
        for c, a in sorted(awards, key=lambda ca: ca[0].data.external_id)
        if a.points
    ]
    insert_rows(
        "points_pendingaward",
        [
            ("shop_id", "int"),
            ("member_id", "int"),
            ("order_external_id", "text"),
            ("points", "int"),
            ("available_at", "datetime"),
            ("state", "text"),
            ("created_at", "datetime"),
            ("details", "json"),
        ],
        rows,
    )
    totals = Counter()
    for row in rows:
        totals[row[1]] += row[3]
    return totals


def _kept(order: Order, value: int) -> int:
    """What an order keeps of `value` after its refunds: in proportion to the amount still paid, rounded down."""
    if order.status == OrderStatus.CANCELLED or order.amount <= 0:
        return 0
    share = (order.amount - order.refunded_amount) / order.amount
    return int((value * share).quantize(Decimal(1), rounding=ROUND_DOWN))


def _take_back(*, shop: Shop, order: Order, key: str, reason: str) -> None:
    """Bring the order's points and growth value down to what it keeps (see _kept)."""
    if not order.member_id:
        return
    pending = PendingAward.objects.select_for_update().filter(shop=shop, order_external_id=order.external_id).first()
    keep = _kept(order, order.points_earned)
    if pending is not None and pending.state == PendingState.PENDING:
        cut = pending.points - keep
        if cut > 0:
            pending.points = keep
            pending.state = PendingState.PENDING if keep else PendingState.CANCELLED
            pending.save(update_fields=["points", "state"])
            member_counters_add(shop=shop, column="points_pending", deltas={order.member_id: -cut})
    elif earned := PointsEntry.objects.filter(shop=shop, idempotency_key=earn_key(order.external_id)).first():
        taken = -(PointsEntry.objects.filter(shop=shop, reverses=earned).aggregate(total=Sum("points"))["total"] or 0)
        # `keep` is of the points the order earned, not of the credit: a refund inside the window already cut
        # the pending points that were released, so the credit may be less than points_earned.
        if (due := earned.points - keep - taken) > 0:
            points_reverse(shop=shop, entry=earned, points=due, idempotency_key=key, reason=reason)
    growth, growth_reversed = growth_of_order(shop=shop, order_external_id=order.external_id)
    due = growth - _kept(order, growth) - growth_reversed
    if due > 0:
        available = Member.objects.filter(shop=shop, pk=order.member_id).values_list("growth_value", flat=True)[0]
        if taken := min(due, available):
            row = GrowthRow(
                order.member_id,
                -taken,
                key,
                kind=GrowthKind.REVERSE,
                reason=reason,
                order_external_id=order.external_id,
            )
            growth_post_many(shop=shop, rows=[row], now=timezone.now())


def refund_created(*, shop: Shop, order: Order, refund: Refund) -> None:
    _take_back(
        shop=shop,
        order=order,
        key=f"refund#{refund.external_id}",
        reason=_("Refund %(refund)s of order %(order)s") % {"refund": refund.external_id, "order": order.external_id},
    )


def order_status_changed(*, shop: Shop, order: Order, previous: str) -> None:
    if order.status == OrderStatus.CANCELLED:
        _take_back(
            shop=shop,
            order=order,
            key=f"cancel#{order.external_id}",
            reason=_("Order %(order)s cancelled") % {"order": order.external_id},
        )
    elif order.status == OrderStatus.COMPLETED:
        days = points_program_of(shop=shop).pending_days
        PendingAward.objects.filter(
            shop=shop, order_external_id=order.external_id, state=PendingState.PENDING, available_at__isnull=True
        ).update(available_at=order.completed_at + timedelta(days=days))


@transaction.atomic
def points_pending_release(*, shop: Shop, now: datetime) -> int:
    """Credit every pending award whose return window has passed, set-based. Safe to re-run and to run beside
    refunds: an award is taken by one UPDATE ... WHERE state = pending, which a concurrent refund's row lock
    orders. Returns the number released."""
    released = list(
        PendingAward.objects.filter(shop=shop, state=PendingState.PENDING, available_at__lte=now)
        .select_for_update()  # a row a concurrent refund cancelled is re-checked after its lock and left out
        .order_by("pk")
        .values("pk", "member_id", "points", "order_external_id", "available_at", "details")
    )
    if not released:
        return 0
    PendingAward.objects.filter(pk__in=[r["pk"] for r in released]).update(state=PendingState.RELEASED)
    pending = Counter()
    for r in released:
        pending[r["member_id"]] -= r["points"]
    member_counters_add(shop=shop, column="points_pending", deltas=pending)
    credited = _credit_many(
        shop=shop,
        program=points_program_of(shop=shop),
        credits=[
            Credit(
                r["member_id"],
                r["points"],
                earn_key(r["order_external_id"]),
                r["order_external_id"],
                r["available_at"],
                r["details"],
            )
            for r in released
            if r["points"]
        ],
        now=now,
    )
    member_counters_add(shop=shop, column="points_balance", deltas=credited)
    return len(released)
