"""Reads on members. Each takes `shop=`; a missing or another shop's member raises Member.DoesNotExist."""

from django.db.models import Exists, OuterRef, QuerySet

from shops.models import Shop

from .models import Member, MemberStatus, MemberTag, Tag


def member_get(*, shop: Shop, pk: int) -> Member:
    return Member.objects.get(shop=shop, pk=pk)


def member_get_live(*, shop: Shop, pk: int) -> Member:
    """A member that is not erased."""
    return Member.objects.exclude(status=MemberStatus.ERASED).get(shop=shop, pk=pk)


def member_search(*, shop: Shop, phone: str = "", external_id: str = "", tag: Tag | None = None) -> QuerySet[Member]:
    """Exact lookups an integration makes: by E.164 phone, platform buyer id and tag."""
    qs = Member.objects.filter(shop=shop)
    if phone:
        qs = qs.filter(phone=phone)
    if external_id:
        qs = qs.filter(external_id=external_id)
    if tag is not None:
        qs = qs.filter(Exists(MemberTag.objects.filter(shop=shop, tag=tag, member=OuterRef("pk"))))
    return qs
