"""Writes on the points ledger. Every write is idempotent by a key unique per shop: a replay returns the first
entry (created=False) and changes nothing; the same key with other content is IdempotencyConflict.

Each write locks the member row first, so a member's writes happen one at a time (concurrent redemptions cannot
both spend the same points), then writes the entry, its lot or the lots it consumes, and (members.figures) the
cached balance, in one transaction. The balance's CheckConstraints are the last line of defence against
overdrawing and against passing MAX_BALANCE; amounts are whole numbers of at most MAX_POINTS (members.models),
carried as bigints."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Case, F, When
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from events.outbox import NewEvent, emit
from events.types import EventType
from members.errors import BalanceLimit
from members.figures import member_points_add
from members.models import MAX_BALANCE, MAX_POINTS, Member, MemberStatus
from shops.errors import Conflict
from shops.idempotency import body_hash
from shops.models import Shop
from shops.services import SYSTEM, Actor, audit_record

from .errors import IdempotencyConflict, InsufficientPoints, InvalidPoints
from .models import EntryKind, PointsEntry, PointsLot
from .rules import CashQuote, expiry_for, points_cash_quote
from .selectors import points_program_of


@dataclass(frozen=True)
class Posted:
    entry: PointsEntry
    created: bool


def _check(points: int, *, signed: bool = False) -> None:
    """A whole number above zero (with signed=True: any whole number but zero), within MAX_POINTS."""
    whole = isinstance(points, int) and not isinstance(points, bool)
    if not whole or not (abs(points) if signed else points) > 0:
        raise InvalidPoints(details={"points": points})
    if abs(points) > MAX_POINTS:
        message = gettext("At most %(max)s points in one operation.") % {"max": f"{MAX_POINTS:,}"}
        raise InvalidPoints(message, details={"points": points, "max": MAX_POINTS})


def _expiry(shop: Shop, earned_at: datetime) -> datetime | None:
    return expiry_for(program=points_program_of(shop=shop), time_zone=shop.time_zone, earned_at=earned_at)


def _earlier(*, shop: Shop, key: str, body_hash: str) -> PointsEntry | None:
    entry = PointsEntry.objects.filter(shop=shop, idempotency_key=key).first()
    if entry is not None and entry.body_hash != body_hash:
        raise IdempotencyConflict(details={"idempotency_key": key})
    return entry


def _locked(*, shop: Shop, member: Member) -> Member:
    return Member.objects.select_for_update().exclude(status=MemberStatus.ERASED).get(shop=shop, pk=member.pk)


def _post(*, shop: Shop, member: Member, key: str, body_hash: str, write) -> Posted:
    """Lock the member, return the first result of a replay, else run `write` (which creates the entry)."""
    member = _locked(shop=shop, member=member)
    # Under the member lock: a concurrent write with the same key for this member has committed or not started.
    if earlier := _earlier(shop=shop, key=key, body_hash=body_hash):
        return Posted(earlier, created=False)
    try:
        with transaction.atomic():
            return Posted(write(member), created=True)
    except IntegrityError:  # the same key, used meanwhile for another member of the shop
        earlier = _earlier(shop=shop, key=key, body_hash=body_hash)
        if earlier is None:
            raise
        return Posted(earlier, created=False)


def posted_event(
    *, member_id: int, kind: str, points: int, key: str, order_external_id: str = "", entry_id: int | None = None
) -> NewEvent:
    """The points.posted event of a ledger entry (`key`: its idempotency key, unique per shop)."""
    payload = {"kind": kind, "points": points, "key": key}
    if entry_id is not None:
        payload["entry_id"] = entry_id
    if order_external_id:
        payload["order_external_id"] = order_external_id
    return NewEvent(EventType.POINTS_POSTED, member_id, payload)


def _posted(entry: PointsEntry) -> None:
    event = posted_event(
        member_id=entry.member_id,
        kind=entry.kind,
        points=entry.points,
        key=entry.idempotency_key,
        order_external_id=entry.order_external_id,
        entry_id=entry.pk,
    )
    emit(shop_id=entry.shop_id, type=event.type, member_id=event.member_id, payload=event.payload)


def _credit(
    *,
    shop: Shop,
    member: Member,
    kind: str,
    points: int,
    key: str,
    body_hash: str,
    reason: str,
    order_external_id: str,
    expires_at: datetime | None,
    actor: Actor,
    now: datetime,
    reverses: PointsEntry | None = None,
) -> PointsEntry:
    """Credit `points` as a new lot. `member` is the locked row, whose balance is checked against MAX_BALANCE."""
    if member.points_balance + points > MAX_BALANCE:
        raise BalanceLimit(details={"points": points, "balance": member.points_balance})
    entry = PointsEntry.objects.create(
        shop=shop,
        member=member,
        kind=kind,
        points=points,
        reason=reason,
        order_external_id=order_external_id,
        idempotency_key=key,
        body_hash=body_hash,
        actor=actor.label,
        created_at=now,
        reverses=reverses,
    )
    PointsLot.objects.create(
        shop=shop, entry=entry, member=member, remaining=points, earned_at=now, expires_at=expires_at
    )
    member_points_add(shop=shop, member_id=member.pk, points=points)
    _posted(entry)
    return entry


def _debit(
    *,
    shop: Shop,
    member: Member,
    kind: str,
    points: int,
    key: str,
    body_hash: str,
    reason: str,
    order_external_id: str,
    actor: Actor,
    now: datetime,
    reverses: PointsEntry | None = None,
    details: dict | None = None,
) -> PointsEntry:
    """Take `points` from the member's open lots, the soonest to expire first (then the oldest earned); a reversal
    takes from the lot of the entry it reverses first."""
    if member.points_balance < points:
        raise InsufficientPoints(details={"points": points, "balance": member.points_balance})
    order = [F("expires_at").asc(nulls_last=True), "earned_at", "id"]
    if reverses is not None:
        order.insert(0, Case(When(entry_id=reverses.pk, then=0), default=1))
    lots = PointsLot.objects.filter(shop=shop, member=member, remaining__gt=0).order_by(*order)
    left = points
    for lot in lots.select_for_update():  # a member's open lots: a handful of rows
        take = min(left, lot.remaining)
        PointsLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - take)
        left -= take
        if left == 0:
            break
    if left:  # the cached balance promised more than the lots hold: drift, never spend it
        raise InsufficientPoints(details={"points": points, "balance": points - left})
    entry = PointsEntry.objects.create(
        shop=shop,
        member=member,
        kind=kind,
        points=-points,
        reason=reason,
        order_external_id=order_external_id,
        idempotency_key=key,
        body_hash=body_hash,
        actor=actor.label,
        created_at=now,
        reverses=reverses,
        details=details or {},
    )
    member_points_add(shop=shop, member_id=member.pk, points=-points)
    _posted(entry)
    return entry


@transaction.atomic
def points_earn(
    *,
    shop: Shop,
    member: Member,
    points: int,
    idempotency_key: str,
    reason: str = "",
    order_external_id: str = "",
    expires_at: datetime | None = None,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> Posted:
    """Credit earned points as a new lot, expiring at `expires_at` (by default as the shop's rules say).
    Raises InvalidPoints, BalanceLimit, IdempotencyConflict."""
    _check(points)
    now = now or timezone.now()
    body = body_hash(kind="earn", member=member.pk, points=points, reason=reason, order=order_external_id)
    return _post(
        shop=shop,
        member=member,
        key=idempotency_key,
        body_hash=body,
        write=lambda m: _credit(
            shop=shop,
            member=m,
            kind=EntryKind.EARN,
            points=points,
            key=idempotency_key,
            body_hash=body,
            reason=reason,
            order_external_id=order_external_id,
            expires_at=expires_at or _expiry(shop, now),
            actor=actor,
            now=now,
        ),
    )


CASH_REFUSALS = {
    "cash_disabled": _("This shop does not take points as cash."),
    "below_minimum": _("Fewer points than the minimum for paying with points."),
    "above_cap": _("These points would pay more of the order than the shop allows."),
}


def _cash_details(*, shop: Shop, points: int, order_amount: Decimal) -> dict:
    """What the points pay of an order of `order_amount`, as the redemption entry's details. Raises InvalidPoints."""
    quote = points_cash_quote(program=points_program_of(shop=shop), points=points, order_amount=order_amount)
    if not isinstance(quote, CashQuote):
        raise InvalidPoints(CASH_REFUSALS[quote], code=quote, details={"points": points})
    return {"order_amount": str(order_amount), "cash_value": str(quote.cash)}


@transaction.atomic
def points_redeem(
    *,
    shop: Shop,
    member: Member,
    points: int,
    idempotency_key: str,
    reason: str = "",
    order_external_id: str = "",
    order_amount: Decimal | None = None,
    actor: Actor = SYSTEM,
) -> Posted:
    """Spend available points (pending points are not available). With `order_amount`, the points pay part of that
    order as the shop's points-as-cash settings allow; the entry's details keep the order amount and the cash value,
    so a replay answers with the first price even if the settings changed since. Raises InvalidPoints (also the
    cash refusals: cash_disabled, below_minimum, above_cap), InsufficientPoints, IdempotencyConflict."""
    _check(points)
    cash = {} if order_amount is None else {"order_amount": str(order_amount)}
    body = body_hash(kind="redeem", member=member.pk, points=points, reason=reason, order=order_external_id, **cash)
    return _post(
        shop=shop,
        member=member,
        key=idempotency_key,
        body_hash=body,
        write=lambda m: _debit(
            shop=shop,
            member=m,
            kind=EntryKind.REDEEM,
            points=points,
            key=idempotency_key,
            body_hash=body,
            reason=reason,
            order_external_id=order_external_id,
            actor=actor,
            now=timezone.now(),
            details=cash and _cash_details(shop=shop, points=points, order_amount=order_amount),
        ),
    )


@transaction.atomic
def points_adjust(
    *, shop: Shop, member: Member, points: int, reason: str, idempotency_key: str, actor: Actor
) -> Posted:
    """A staff correction: positive points are credited as a lot (expiring by the shop's rule), negative ones are
    taken like a redemption. Audited. Raises InvalidPoints (zero, above MAX_POINTS, or no reason),
    InsufficientPoints, BalanceLimit, IdempotencyConflict."""
    _check(points, signed=True)
    if not reason.strip():
        raise InvalidPoints("An adjustment needs a reason.", code="reason_required")
    now = timezone.now()
    body = body_hash(kind="adjust", member=member.pk, points=points, reason=reason)
    common = {
        "shop": shop,
        "kind": EntryKind.ADJUST,
        "key": idempotency_key,
        "body_hash": body,
        "reason": reason,
        "order_external_id": "",
        "actor": actor,
        "now": now,
    }

    def write(locked: Member) -> PointsEntry:
        if points > 0:
            entry = _credit(member=locked, points=points, expires_at=_expiry(shop, now), **common)
        else:
            entry = _debit(member=locked, points=-points, **common)
        audit_record(
            shop=shop,
            actor=actor,
            action="points.adjust",
            obj=locked,
            changes={"points_balance": [locked.points_balance, locked.points_balance + points], "reason": ["", reason]},
        )
        return entry

    return _post(shop=shop, member=member, key=idempotency_key, body_hash=body, write=write)


@transaction.atomic
def points_reverse(
    *, shop: Shop, entry: PointsEntry, points: int, idempotency_key: str, reason: str = "", actor: Actor = SYSTEM
) -> Posted | None:
    """Take back up to `points` of an earlier credit (a refund's clawback): as many as the member still has,
    from that credit's own lot first. Points already spent stay spent: a balance is never overdrawn, and the
    entry's details record the shortfall. None when the member has no points left (nothing is written).
    Raises InvalidPoints, IdempotencyConflict."""
    _check(points)
    assert entry.shop_id == shop.pk and entry.points > 0
    body = body_hash(kind="reverse", entry=entry.pk, points=points, reason=reason)

    def write(locked: Member) -> PointsEntry | None:
        taken = min(points, locked.points_balance)
        if taken == 0:
            return None
        reversal = _debit(
            shop=shop,
            member=locked,
            kind=EntryKind.REVERSE,
            points=taken,
            key=idempotency_key,
            body_hash=body,
            reason=reason,
            order_external_id=entry.order_external_id,
            actor=actor,
            now=timezone.now(),
            reverses=entry,
        )
        if taken < points:
            reversal.details = {"asked": points, "taken": taken}
            reversal.save(update_fields=["details"])
        return reversal

    member = Member(pk=entry.member_id, shop=shop)
    posted = _post(shop=shop, member=member, key=idempotency_key, body_hash=body, write=write)
    return posted if posted.entry is not None else None


class RefundRefused(Conflict):
    code = "already_refunded"
    default_message = _("These points were already given back.")


@transaction.atomic
def points_refund(
    *, shop: Shop, entry: PointsEntry, idempotency_key: str, reason: str = "", actor: Actor = SYSTEM
) -> Posted:
    """Give back in full what the redemption `entry` took (a cancelled points mall exchange): a new entry of kind
    reverse with the positive points, naming `entry`, credited as a new lot that expires as the shop's rules say
    from now. A redemption is refunded once: a second refund of it under another key is RefundRefused.
    Raises IdempotencyConflict, RefundRefused, BalanceLimit."""
    assert entry.shop_id == shop.pk and entry.kind == EntryKind.REDEEM and entry.points < 0
    points, now = -entry.points, timezone.now()
    body = body_hash(kind="refund", entry=entry.pk, points=points, reason=reason)

    def write(locked: Member) -> PointsEntry:
        if PointsEntry.objects.filter(shop=shop, reverses=entry, points__gt=0).exists():
            raise RefundRefused(details={"entry": entry.pk})
        return _credit(
            shop=shop,
            member=locked,
            kind=EntryKind.REVERSE,
            points=points,
            key=idempotency_key,
            body_hash=body,
            reason=reason,
            order_external_id=entry.order_external_id,
            expires_at=_expiry(shop, now),
            actor=actor,
            now=now,
            reverses=entry,
        )

    return _post(
        shop=shop, member=Member(pk=entry.member_id, shop=shop), key=idempotency_key, body_hash=body, write=write
    )
