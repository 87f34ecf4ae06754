"""Segments: saved member filters (members.filters) with a live count, feeding coupons and campaigns."""

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shops.errors import Conflict
from shops.models import Shop
from shops.services import Actor, audit_record

from .filters import member_filter
from .models import Segment


class SegmentNameTaken(Conflict):
    code = "segment_name_taken"


def segment_list(*, shop: Shop) -> QuerySet[Segment]:
    return Segment.objects.filter(shop=shop).order_by("name")


def segment_get(*, shop: Shop, pk: int) -> Segment:
    return Segment.objects.get(shop=shop, pk=pk)


def segment_count(*, shop: Shop, definition: dict) -> int:
    """How many members match now (the live preview). Raises InvalidFilter."""
    return member_filter(shop=shop, definition=definition).count()


@transaction.atomic
def segment_save(*, shop: Shop, actor: Actor, name: str, definition: dict, segment: Segment | None = None) -> Segment:
    """Create (segment=None) or change a segment; the definition is validated by counting it. Raises
    InvalidFilter, SegmentNameTaken."""
    name = name.strip()
    count = segment_count(shop=shop, definition=definition)
    clash = Segment.objects.filter(shop=shop, name=name)
    if segment is not None:
        assert segment.shop_id == shop.pk
        clash = clash.exclude(pk=segment.pk)
    if clash.exists():
        raise SegmentNameTaken(_("A segment named %(name)s already exists.") % {"name": name})
    before = segment.definition if segment else {}
    segment = segment or Segment(shop=shop)
    segment.name, segment.definition = name, definition
    segment.last_count, segment.counted_at = count, timezone.now()
    segment.save()
    audit_record(
        shop=shop,
        actor=actor,
        action="segment.save",
        obj=segment,
        changes={"definition": [str(before), str(definition)]},
    )
    return segment


@transaction.atomic
def segment_delete(*, shop: Shop, actor: Actor, segment: Segment) -> None:
    assert segment.shop_id == shop.pk
    audit_record(shop=shop, actor=actor, action="segment.delete", obj=segment)
    Segment.objects.filter(shop=shop, pk=segment.pk).delete()
