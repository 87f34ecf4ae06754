"""Writes on the growth value ledger (SPEC 6): append-only entries, idempotent by a key unique per shop, and the
member's cached growth_value changed in the same statement chain. Growth value is never spent; only a refund
(kind reverse) or a staff adjustment lowers it, and never below zero (Member's CheckConstraint)."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from members.figures import member_counters_add
from members.models import MAX_POINTS, Member
from shops.bulk import insert_rows
from shops.models import Shop
from shops.services import SYSTEM, Actor

from .errors import InvalidGrowth
from .models import GrowthEntry, GrowthKind


@dataclass(frozen=True)
class GrowthRow:
    member_id: int
    value: int
    idempotency_key: str
    kind: str = GrowthKind.EARN
    reason: str = ""
    order_external_id: str = ""


def growth_entries_insert(
    *, shop: Shop, rows: list[GrowthRow], actor: Actor = SYSTEM, now: datetime
) -> list[tuple[int, int]]:
    """Write growth entries set-based, skipping rows whose key exists already (a replay). Returns (member id,
    value) of the entries written, which the caller adds to the members' cached values in the same transaction
    (growth_post_many; the order effects hand them to the orders' one update of the buyer's row)."""
    rows = sorted((row for row in rows if row.value), key=lambda row: row.idempotency_key)
    inserted = insert_rows(
        "tiers_growthentry",
        [
            ("shop_id", "int"),
            ("member_id", "int"),
            ("kind", "text"),
            ("value", "int"),
            ("reason", "text"),
            ("order_external_id", "text"),
            ("idempotency_key", "text"),
            ("actor", "text"),
            ("created_at", "datetime"),
        ],
        [
            (shop.pk, r.member_id, r.kind, r.value, r.reason, r.order_external_id, r.idempotency_key, actor.label, now)
            for r in rows
        ],
        conflict=("shop_id", "idempotency_key"),
        returning=("member_id", "value"),
    )
    return inserted


def growth_totals(inserted: list[tuple[int, int]]) -> dict[int, int]:
    totals: dict[int, int] = {}
    for member_id, value in inserted:
        totals[member_id] = totals.get(member_id, 0) + value
    return totals


def growth_post_many(*, shop: Shop, rows: list[GrowthRow], actor: Actor = SYSTEM, now: datetime) -> int:
    """Write growth entries set-based and add them to the members' cached values. Rows whose key exists already
    are skipped (a replay); returns the number written. Must run inside the caller's transaction."""
    inserted = growth_entries_insert(shop=shop, rows=rows, actor=actor, now=now)
    member_counters_add(shop=shop, column="growth_value", deltas=growth_totals(inserted))
    return len(inserted)


@transaction.atomic
def growth_post(
    *,
    shop: Shop,
    member: Member,
    value: int,
    idempotency_key: str,
    kind: str = GrowthKind.TASK,
    reason: str = "",
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> bool:
    """One growth entry (an interaction's reward, a staff adjustment). Returns False for a replay of the key.
    Raises InvalidGrowth (0, not a whole number, or more than MAX_POINTS either way)."""
    assert member.shop_id == shop.pk
    if not isinstance(value, int) or isinstance(value, bool) or value == 0:
        raise InvalidGrowth(details={"value": value})
    if abs(value) > MAX_POINTS:
        message = gettext("At most %(max)s growth value in one operation.") % {"max": f"{MAX_POINTS:,}"}
        raise InvalidGrowth(message, details={"value": value, "max": MAX_POINTS})
    row = GrowthRow(member_id=member.pk, value=value, idempotency_key=idempotency_key, kind=kind, reason=reason)
    return growth_post_many(shop=shop, rows=[row], actor=actor, now=now or timezone.now()) == 1


def growth_of_order(*, shop: Shop, order_external_id: str) -> tuple[int, int]:
    """The growth an order earned and how much of it refunds reversed so far (a positive number)."""
    earned = reversed_ = 0
    for kind, value in GrowthEntry.objects.filter(shop=shop, order_external_id=order_external_id).values_list(
        "kind", "value"
    ):
        if kind == GrowthKind.EARN:
            earned += value
        elif kind == GrowthKind.REVERSE:
            reversed_ -= value
    return earned, reversed_
