from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from members.models import Member
from shops.models import Shop

from .models import PointsEntry, PointsLot


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
