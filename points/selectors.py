from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F, Min, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from members.models import Member, MemberStatus
from shops.bulk import adapt, models_select
from shops.models import Shop

from .models import BonusRule, PointsEntry, PointsLot, PointsProgram


def _member_sum(shop: Shop, model, field: str):
    rows = model.objects.filter(shop=shop, member=OuterRef("pk")).order_by().values("member").annotate(total=Sum(field))
    return Coalesce(Subquery(rows.values("total")), Value(0))


def points_reconcile(*, shop: Shop, member_ids: list[int] | None = None) -> list[dict]:
    """Members whose cached balance differs from their ledger (the sum of their entries) or from their open lots
    (the sum of the remainders), in one query. Empty when the books balance."""
    members = Member.objects.filter(shop=shop)
    if member_ids is not None:
        members = members.filter(pk__in=member_ids)
    drifted = members.annotate(
        ledger=_member_sum(shop, PointsEntry, "points"), lots=_member_sum(shop, PointsLot, "remaining")
    ).filter(~Q(points_balance=F("ledger")) | ~Q(points_balance=F("lots")))
    return [
        {"member_id": pk, "cached": cached, "ledger": ledger, "lots": lots}
        for pk, cached, ledger, lots in drifted.values_list("pk", "points_balance", "ledger", "lots")
    ]


# These two are read on every order with a buyer: written out (shops.bulk.models_select), not compiled by the ORM.


def points_program_of(*, shop: Shop) -> PointsProgram:
    """The shop's points rules; every shop has them (created with the shop, see points.defaults)."""
    programs = models_select(PointsProgram, "shop_id = %s", [shop.pk])
    if not programs:
        raise PointsProgram.DoesNotExist
    return programs[0]


def bonus_rules_of(*, shop: Shop, active: bool | None = None) -> list[BonusRule]:
    if active is None:
        return models_select(BonusRule, "shop_id = %s", [shop.pk], order_by="id")
    return models_select(BonusRule, "shop_id = %s AND active = %s", [shop.pk, active], order_by="id")


def points_summary(*, shop: Shop, member: Member, now: datetime, entries: int = 20) -> dict:
    """A member's balances, the points expiring within the shop's reminder period (grouped by expiry time) and
    their latest entries."""
    horizon = now + timedelta(days=points_program_of(shop=shop).reminder_days)
    # Written out: the member card reads it on every view, and the ORM took longer to compile it than to run it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT expires_at, SUM(remaining) FROM points_pointslot WHERE shop_id = %s AND member_id = %s "
            "AND remaining > 0 AND expires_at > %s AND expires_at <= %s GROUP BY expires_at ORDER BY expires_at",
            [shop.pk, member.pk, adapt(now, "datetime"), adapt(horizon, "datetime")],
        )
        rows = cursor.fetchall()
    convert = connection.ops.convert_datetimefield_value if connection.vendor == "sqlite" else None
    expiring = [
        {"expires_at": convert(at, None, connection) if convert else at, "points": int(points)} for at, points in rows
    ]
    return {
        "points_balance": member.points_balance,
        "points_pending": member.points_pending,
        "expiring_soon": expiring,
        "entries": list(PointsEntry.objects.filter(shop=shop, member=member).order_by("-created_at", "-id")[:entries]),
    }


def points_reconcile_batches(*, shop: Shop, batch_size: int = 5000) -> Iterator[tuple[int, list[dict]]]:
    """points_reconcile over every member of the shop, `batch_size` members (by id) per query, so that a shop of
    millions is checked in bounded queries: yields (members checked, drifted ones) per batch."""
    after = 0
    while ids := list(
        Member.objects.filter(shop=shop, pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch_size]
    ):
        yield len(ids), points_reconcile(shop=shop, member_ids=ids)
        after = ids[-1]


def points_expiring(*, shop: Shop, within_days: int, now: datetime | None = None) -> QuerySet:
    """Per member (not erased) with open points expiring after `now` and at most `within_days` days later: rows
    {"member_id", "points" (their sum), "earliest_expiry"}, by member id; one GROUP BY query."""
    now = now or timezone.now()
    return (
        PointsLot.objects.filter(
            shop=shop, remaining__gt=0, expires_at__gt=now, expires_at__lte=now + timedelta(days=within_days)
        )
        .exclude(member__status=MemberStatus.ERASED)
        .values("member_id")
        .annotate(points=Sum("remaining"), earliest_expiry=Min("expires_at"))
        .order_by("member_id")
    )
