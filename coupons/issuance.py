"""Issuing coupons: one member at a time (coupon_issue) or set-based to many (coupons_issue_bulk). Every path goes
through these two functions, each keyed for idempotency: a replay returns the first coupon and issues nothing.

Invariants: a template never issues more than its stock, and a member never holds more of a template than its
per-member limit (on the paths that apply it). Both hold because every issue of a template first locks the
template's row: issues of one template happen one after another, so the stock and the member's count read under
the lock are exact, and `issued` only changes under it (a CheckConstraint keeps issued <= stock besides).

The per-member limit applies to what a member or staff ask for (claim, grant, segment grant, points exchange);
gifts the shop's own rules hand out (welcome, referral, birthday, tier, compensation, campaigns) are bounded by
their own once-only keys instead."""

import datetime
import zoneinfo
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import BooleanField, CharField, Count, Exists, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from members.filters import member_filter
from members.models import Member, MemberStatus
from shops.bulk import insert_rows
from shops.models import Shop

from .codes import code_new
from .errors import IdempotencyConflict, LimitReached, NotIssuable, OutOfStock
from .models import Audience, Coupon, CouponStatus, CouponTemplate, Source, TemplateStatus

LIMITED_SOURCES = frozenset({Source.CLAIM, Source.GRANT, Source.SEGMENT_GRANT, Source.POINTS_EXCHANGE})


@dataclass(frozen=True)
class Issued:
    coupon: Coupon
    created: bool


def use_window(
    template: CouponTemplate, *, issued_at: datetime.datetime, time_zone: str
) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """When a coupon issued at `issued_at` may be used: N days counting the day of issue, to the end of the last
    day in the shop's time zone; or the template's fixed dates."""
    if template.valid_days is not None:
        tz = zoneinfo.ZoneInfo(time_zone)
        last = issued_at.astimezone(tz).date() + datetime.timedelta(days=template.valid_days)
        return issued_at, datetime.datetime.combine(last, datetime.time(), tz)
    return template.valid_from, template.valid_until


def audience_members(*, shop: Shop, template: CouponTemplate, now: datetime.datetime) -> QuerySet[Member] | None:
    """The members the template is meant for (None: everyone)."""
    if template.audience == Audience.EVERYONE:
        return None
    if template.audience == Audience.TIERS:
        return member_filter(shop=shop, definition={"tiers": template.audience_tiers}, now=now)
    if template.audience == Audience.TAGS:
        return member_filter(shop=shop, definition={"tags_any": template.audience_tags}, now=now)
    if template.audience == Audience.SEGMENT:
        if template.audience_segment is None:  # its segment was deleted: nobody
            return Member.objects.none()
        return member_filter(shop=shop, definition=template.audience_segment.definition, now=now)
    since = now - datetime.timedelta(days=template.new_member_days)
    return Member.objects.filter(shop=shop, joined_at__gte=since)


def _in_audience(audience: QuerySet[Member] | None):
    if audience is None:
        return Value(True, output_field=BooleanField())
    return Exists(audience.filter(pk=OuterRef("pk")))


def issuable_check(template: CouponTemplate, *, source: str, now: datetime.datetime) -> None:
    if template.status != TemplateStatus.ACTIVE:
        raise NotIssuable(_("This coupon is paused or has ended."), code="template_inactive")
    if source == Source.CLAIM:
        if template.claim_starts_at and now < template.claim_starts_at:
            raise NotIssuable(_("Claims for this coupon have not opened yet."), code="claim_not_started")
        if template.claim_ends_at and now >= template.claim_ends_at:
            raise NotIssuable(_("Claims for this coupon have closed."), code="claim_ended")
    if template.valid_until is not None and now >= template.valid_until:
        raise NotIssuable(_("This coupon can no longer be used, so it is not issued."), code="use_window_over")


def template_lock(shop: Shop, template: CouponTemplate) -> CouponTemplate:
    return CouponTemplate.objects.select_for_update().get(shop=shop, pk=template.pk)


def _earlier(*, shop: Shop, key: str, template: CouponTemplate, member: Member) -> Coupon | None:
    coupon = Coupon.objects.filter(shop=shop, idempotency_key=key).first()
    if coupon is not None and (coupon.template_id != template.pk or coupon.member_id != member.pk):
        raise IdempotencyConflict(details={"idempotency_key": key})
    return coupon


@transaction.atomic
def coupon_issue(
    *, shop: Shop, member: Member, template: CouponTemplate, idempotency_key: str, source: str,
    check_audience: bool = True, now: datetime.datetime | None = None,
) -> Issued:  # fmt: skip
    """Issue one coupon of `template` to `member`. Safe to retry with the same key (the first coupon, created=False;
    the key used for another template or member: IdempotencyConflict). Claims must fall in the claim window.

    Raises NotIssuable (inactive template, claim window, member not live or outside the audience), OutOfStock,
    LimitReached, IdempotencyConflict."""
    assert member.shop_id == shop.pk and template.shop_id == shop.pk
    now = now or timezone.now()
    if earlier := _earlier(shop=shop, key=idempotency_key, template=template, member=member):
        return Issued(earlier, created=False)
    if member.status != MemberStatus.ACTIVE:
        raise NotIssuable(_("Coupons are issued to active members only."), code="member_not_active")
    template = template_lock(shop, template)
    # Under the lock, every earlier issue of this template has committed: the key, stock and count are exact.
    if earlier := _earlier(shop=shop, key=idempotency_key, template=template, member=member):
        return Issued(earlier, created=False)
    issuable_check(template, source=source, now=now)
    if check_audience and source != Source.COMPENSATION:
        audience = audience_members(shop=shop, template=template, now=now)
        if audience is not None and not audience.filter(pk=member.pk).exists():
            raise NotIssuable(_("This coupon is not offered to this member."), code="outside_audience")
    if template.stock is not None and template.issued >= template.stock:
        raise OutOfStock(details={"template_id": template.pk})
    if source in LIMITED_SOURCES:
        held = Coupon.objects.filter(shop=shop, member=member, template=template).count()
        if held >= template.per_member_limit:
            raise LimitReached(details={"template_id": template.pk, "limit": template.per_member_limit})
    valid_from, valid_until = use_window(template, issued_at=now, time_zone=shop.time_zone)
    try:
        with transaction.atomic():
            coupon = Coupon.objects.create(
                shop=shop, template=template, member=member, code=code_new(), source=source, issued_at=now,
                valid_from=valid_from, valid_until=valid_until, idempotency_key=idempotency_key,
            )  # fmt: skip
    except IntegrityError:  # the key, used meanwhile for another template's coupon
        _earlier(shop=shop, key=idempotency_key, template=template, member=member)
        raise
    CouponTemplate.objects.filter(pk=template.pk).update(issued=F("issued") + 1)
    return Issued(coupon, created=True)


@dataclass
class BulkIssued:
    considered: int = 0
    issued: int = 0
    already: int = 0  # issued by an earlier run with the same keys
    skipped_audience: int = 0
    skipped_limit: int = 0
    skipped_stock: int = 0
    skipped_inactive: int = 0  # frozen or erased members

    def add(self, other: "BulkIssued") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


COUPON_COLUMNS = [
    ("shop_id", "int"), ("template_id", "int"), ("member_id", "int"), ("code", "text"), ("status", "text"),
    ("source", "text"), ("issued_at", "datetime"), ("valid_from", "datetime"), ("valid_until", "datetime"),
    ("idempotency_key", "text"),
]  # fmt: skip


@transaction.atomic
def coupons_issue_bulk(
    *, shop: Shop, template: CouponTemplate, member_ids: list[int], key_prefix: str, source: str,
    now: datetime.datetime | None = None,
) -> BulkIssued:  # fmt: skip
    """Issue one coupon of `template` to each of `member_ids` (a chunk: up to some ten thousand), set-based. The
    coupon for member m has the key f"{key_prefix}{m}", so a re-run issues only what is missing. Members not
    active, outside the audience or (on limited sources) at the limit are skipped and counted; when the stock
    runs out, the lowest member ids are served first and the rest counted as skipped_stock.

    Raises NotIssuable when the template is paused or ended, or its use window is over."""
    now = now or timezone.now()
    template = template_lock(shop, template)
    issuable_check(template, source=Source.GRANT if source == Source.CLAIM else source, now=now)
    key = Concat(Value(key_prefix), Cast(OuterRef("pk"), CharField()))
    held = (
        Coupon.objects.filter(shop=shop, template=template, member=OuterRef("pk"))
        .order_by()
        .values("member")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = (
        Member.objects.filter(shop=shop, pk__in=member_ids)
        .annotate(
            in_audience=_in_audience(audience_members(shop=shop, template=template, now=now)),
            held=Coalesce(Subquery(held), 0),
            already=Exists(Coupon.objects.filter(shop=shop, idempotency_key=key)),
        )
        .order_by("pk")
        .values_list("pk", "status", "in_audience", "held", "already")
    )
    result, eligible = BulkIssued(), []
    for pk, status, in_audience, held_count, already in rows:
        result.considered += 1
        if already:
            result.already += 1
        elif status != MemberStatus.ACTIVE:
            result.skipped_inactive += 1
        elif not in_audience:
            result.skipped_audience += 1
        elif source in LIMITED_SOURCES and held_count >= template.per_member_limit:
            result.skipped_limit += 1
        else:
            eligible.append(pk)
    if template.stock is not None:
        room = max(template.stock - template.issued, 0)
        result.skipped_stock = max(len(eligible) - room, 0)
        eligible = eligible[:room]
    valid_from, valid_until = use_window(template, issued_at=now, time_zone=shop.time_zone)
    coupons = [
        (shop.pk, template.pk, pk, code_new(), CouponStatus.AVAILABLE, source, now, valid_from, valid_until,
         f"{key_prefix}{pk}")
        for pk in eligible
    ]  # fmt: skip
    insert_rows("coupons_coupon", COUPON_COLUMNS, coupons)
    if coupons:
        CouponTemplate.objects.filter(pk=template.pk).update(issued=F("issued") + len(coupons))
    result.issued = len(coupons)
    return result
