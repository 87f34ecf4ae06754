"""Writes on the points ledger. Every write is idempotent by a key unique per shop: a replay returns the first
entry (created=False) and changes nothing; the same key with other content is IdempotencyConflict.

Each write locks the member row first, so a member's writes happen one at a time (concurrent redemptions cannot
both spend the same points), then writes the entry, its lot or the lots it consumes, and the cached balance, in
one transaction. The balance's CheckConstraint is the last line of defence against overdrawing."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from members.models import Member, MemberStatus
from shops.models import Shop
from shops.services import SYSTEM, Actor, audit_record

from .errors import IdempotencyConflict, InsufficientPoints, InvalidPoints
from .models import EntryKind, PointsEntry, PointsLot
from .rules import default_expiry

MAX_POINTS = 10**12  # far above any real balance; keeps sums inside a bigint


@dataclass(frozen=True)
class Posted:
    entry: PointsEntry
    created: bool


def _body_hash(**content) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _check(points: int, *, signed: bool = False) -> None:
    """A whole number above zero (with signed=True: any whole number but zero), within MAX_POINTS."""
    whole = isinstance(points, int) and not isinstance(points, bool)
    if not whole or not 0 < (abs(points) if signed else points) <= MAX_POINTS:
        raise InvalidPoints(details={"points": points})


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


def _credit(
    *, shop: Shop, member: Member, kind: str, points: int, key: str, body_hash: str, reason: str,
    order_external_id: str, expires_at: datetime | None, actor: Actor, now: datetime,
) -> PointsEntry:  # fmt: skip
    entry = PointsEntry.objects.create(
        shop=shop, member=member, kind=kind, points=points, reason=reason, order_external_id=order_external_id,
        idempotency_key=key, body_hash=body_hash, actor=str(actor), created_at=now,
    )  # fmt: skip
    PointsLot.objects.create(
        shop=shop, entry=entry, member=member, remaining=points, earned_at=now, expires_at=expires_at
    )
    Member.objects.filter(shop=shop, pk=member.pk).update(points_balance=F("points_balance") + points)
    return entry


def _debit(
    *, shop: Shop, member: Member, kind: str, points: int, key: str, body_hash: str, reason: str,
    order_external_id: str, actor: Actor, now: datetime,
) -> PointsEntry:  # fmt: skip
    """Take `points` from the member's open lots, the soonest to expire first (then the oldest earned)."""
    if member.points_balance < points:
        raise InsufficientPoints(details={"points": points, "balance": member.points_balance})
    lots = PointsLot.objects.filter(shop=shop, member=member, remaining__gt=0).order_by(
        F("expires_at").asc(nulls_last=True), "earned_at", "id"
    )
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
        shop=shop, member=member, kind=kind, points=-points, reason=reason, order_external_id=order_external_id,
        idempotency_key=key, body_hash=body_hash, actor=str(actor), created_at=now,
    )  # fmt: skip
    Member.objects.filter(shop=shop, pk=member.pk).update(points_balance=F("points_balance") - points)
    return entry


@transaction.atomic
def points_earn(
    *, shop: Shop, member: Member, points: int, idempotency_key: str, reason: str = "", order_external_id: str = "",
    expires_at: datetime | None = None, actor: Actor = SYSTEM, now: datetime | None = None,
) -> Posted:  # fmt: skip
    """Credit earned points as a new lot, expiring at `expires_at` (by default the shop's rule: the end of the
    following calendar year). Raises InvalidPoints, IdempotencyConflict."""
    _check(points)
    now = now or timezone.now()
    body = _body_hash(kind="earn", member=member.pk, points=points, reason=reason, order=order_external_id)
    return _post(
        shop=shop, member=member, key=idempotency_key, body_hash=body,
        write=lambda m: _credit(
            shop=shop, member=m, kind=EntryKind.EARN, points=points, key=idempotency_key, body_hash=body,
            reason=reason, order_external_id=order_external_id,
            expires_at=expires_at or default_expiry(shop=shop, earned_at=now), actor=actor, now=now,
        ),
    )  # fmt: skip


@transaction.atomic
def points_redeem(
    *, shop: Shop, member: Member, points: int, idempotency_key: str, reason: str = "", order_external_id: str = "",
    actor: Actor = SYSTEM,
) -> Posted:  # fmt: skip
    """Spend available points (pending points are not available). Raises InvalidPoints, InsufficientPoints,
    IdempotencyConflict."""
    _check(points)
    body = _body_hash(kind="redeem", member=member.pk, points=points, reason=reason, order=order_external_id)
    return _post(
        shop=shop, member=member, key=idempotency_key, body_hash=body,
        write=lambda m: _debit(
            shop=shop, member=m, kind=EntryKind.REDEEM, points=points, key=idempotency_key, body_hash=body,
            reason=reason, order_external_id=order_external_id, actor=actor, now=timezone.now(),
        ),
    )  # fmt: skip


@transaction.atomic
def points_adjust(
    *, shop: Shop, member: Member, points: int, reason: str, idempotency_key: str, actor: Actor
) -> Posted:
    """A staff correction: positive points are credited as a lot (expiring by the shop's rule), negative ones are
    taken like a redemption. Audited. Raises InvalidPoints (zero, or no reason), InsufficientPoints,
    IdempotencyConflict."""
    _check(points, signed=True)
    if not reason.strip():
        raise InvalidPoints("An adjustment needs a reason.", code="reason_required")
    now = timezone.now()
    body = _body_hash(kind="adjust", member=member.pk, points=points, reason=reason)
    common = {"shop": shop, "kind": EntryKind.ADJUST, "key": idempotency_key, "body_hash": body, "reason": reason,
              "order_external_id": "", "actor": actor, "now": now}  # fmt: skip

    def write(locked: Member) -> PointsEntry:
        if points > 0:
            entry = _credit(member=locked, points=points, expires_at=default_expiry(shop=shop, earned_at=now), **common)
        else:
            entry = _debit(member=locked, points=-points, **common)
        audit_record(
            shop=shop, actor=actor, action="points.adjust", obj=locked,
            changes={"points_balance": [locked.points_balance, locked.points_balance + points], "reason": ["", reason]},
        )  # fmt: skip
        return entry

    return _post(shop=shop, member=member, key=idempotency_key, body_hash=body, write=write)
