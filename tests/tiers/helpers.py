"""Set-up through the services: members enrol, orders are recorded (their effects upgrade at once), ladders are
applied as the merchant applies them."""

from datetime import UTC, datetime
from decimal import Decimal
from itertools import count

from django_scopes import scope

from members.models import Member
from members.services import Enrolment, member_enroll
from orders.services import OrderInput, order_record
from shops.models import Shop
from tiers.growth import growth_post
from tiers.models import Tier

_numbers = count(1)


def enrol(shop: Shop, name: str = "") -> Member:
    member, _created = member_enroll(shop=shop, data=Enrolment(phone=f"1380013{next(_numbers):04d}", name=name))
    return member


def buy(shop: Shop, member: Member, amount, paid_at: datetime, status: str = "paid"):
    """Record an order (now must be at or after paid_at: travel first)."""
    data = OrderInput(
        external_id=f"T-{next(_numbers)}",
        member_id=member.pk,
        amount=Decimal(str(amount)),
        paid_at=paid_at,
        status=status,
    )
    return order_record(shop=shop, data=data).order


def grow(shop: Shop, member: Member, value: int, at: datetime) -> None:
    """Post growth value as an interaction's reward does (tiers.growth.growth_post): the entry at `at`, and the
    member's cached growth value and updated_at changed with it."""
    with scope(shop=shop):
        growth_post(shop=shop, member=member, value=value, idempotency_key=f"g-{next(_numbers)}", now=at)


def rank_of(member: Member) -> int:
    member.refresh_from_db()
    return 0 if member.tier_id is None else Tier.objects.get(pk=member.tier_id).rank


def ladder(*tiers: dict) -> list[dict]:
    """Rank 0 plus the given tiers, ranked in order."""
    return [{"rank": 0, "name": "普通会员"}] + [{"rank": i, **t} for i, t in enumerate(tiers, start=1)]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def refund(shop: Shop, order, amount):
    from orders.services import RefundInput, refund_record

    return refund_record(
        shop=shop, order=order, data=RefundInput(external_id=f"R-{next(_numbers)}", amount=Decimal(str(amount)))
    )


def tier(shop: Shop, rank: int) -> Tier:
    return Tier.objects.get(shop=shop, rank=rank)
