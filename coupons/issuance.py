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
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import BooleanField, CharField, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from events.outbox import NewEvent, emit_many
from events.types import EventType
from members.filters import member_filter
from members.models import Member, MemberStatus
from shops.bulk import adapt, in_condition, models_select, values_cte
from shops.models import Shop
from shops.time import day_start, local_date

from .codes import code_new, code_sql
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
        last = local_date(time_zone, issued_at) + datetime.timedelta(days=template.valid_days)
        return issued_at, day_start(time_zone, last)
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
    return Exists(audience.filter(shop=OuterRef("shop"), pk=OuterRef("pk")))


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
    """The template re-read and locked until the transaction ends: every issue of it, and every change of it, takes
    this lock first. Written out (shops.bulk.models_select): a hot template's claims take it on every request.
    Raises CouponTemplate.DoesNotExist."""
    locked = models_select(CouponTemplate, "shop_id = %s AND id = %s", [shop.pk, template.pk], for_update=True)
    if not locked:
        raise CouponTemplate.DoesNotExist
    return locked[0]


def _earlier(*, shop: Shop, key: str, template: CouponTemplate, member: Member) -> Coupon | None:
    coupon = Coupon.objects.filter(shop=shop, idempotency_key=key).first()
    if coupon is not None and (coupon.template_id != template.pk or coupon.member_id != member.pk):
        raise IdempotencyConflict(details={"idempotency_key": key})
    return coupon


@transaction.atomic
def coupon_issue(
    *,
    shop: Shop,
    member: Member,
    template: CouponTemplate,
    idempotency_key: str,
    source: str,
    check_audience: bool = True,
    now: datetime.datetime | None = None,
) -> Issued:
    """Issue one coupon of `template` to `member`. Safe to retry with the same key (the first coupon, created=False;
    the key used for another template or member: IdempotencyConflict). Claims must fall in the claim window.

    Raises NotIssuable (inactive template, claim window, member not live or outside the audience), OutOfStock,
    LimitReached, IdempotencyConflict.

    A claim on a hot template runs this on every request, so its four statements are written out (the ORM spent
    more CPU compiling them than PostgreSQL spent running them, docs/benchmarks.md)."""
    assert member.shop_id == shop.pk and template.shop_id == shop.pk
    now = now or timezone.now()
    template = template_lock(shop, template)
    # Under the lock, every earlier issue of this template has committed: the key, stock and count are exact. The
    # count runs over the member's own coupons: with the template in the WHERE clause, statistics from before a hot
    # template filled up had the planner scan all of the template's coupons, under the lock, every claim.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT id FROM coupons_coupon WHERE shop_id = %s AND idempotency_key = %s), "
            "(SELECT count(*) FILTER (WHERE template_id = %s) FROM coupons_coupon "
            "WHERE shop_id = %s AND member_id = %s)",
            [shop.pk, idempotency_key, template.pk, shop.pk, member.pk],
        )
        earlier_id, held = cursor.fetchone()
    if earlier_id is not None:
        return Issued(_earlier(shop=shop, key=idempotency_key, template=template, member=member), created=False)
    if member.status != MemberStatus.ACTIVE:
        raise NotIssuable(_("Coupons are issued to active members only."), code="member_not_active")
    issuable_check(template, source=source, now=now)
    if check_audience and source != Source.COMPENSATION:
        audience = audience_members(shop=shop, template=template, now=now)
        if audience is not None and not audience.filter(pk=member.pk).exists():
            raise NotIssuable(_("This coupon is not offered to this member."), code="outside_audience")
    if template.stock is not None and template.issued >= template.stock:
        raise OutOfStock(details={"template_id": template.pk})
    if source in LIMITED_SOURCES and held >= template.per_member_limit:
        raise LimitReached(details={"template_id": template.pk, "limit": template.per_member_limit})
    valid_from, valid_until = use_window(template, issued_at=now, time_zone=shop.time_zone)
    coupon = Coupon(
        shop=shop,
        template=template,
        member=member,
        code=code_new(),
        source=source,
        issued_at=now,
        valid_from=valid_from,
        valid_until=valid_until,
        idempotency_key=idempotency_key,
    )
    values = [
        shop.pk,
        template.pk,
        member.pk,
        coupon.code,
        coupon.status,
        source,
        now,
        valid_from,
        valid_until,
        idempotency_key,
    ]
    columns = ", ".join(name for name, _kind in COUPON_COLUMNS)
    with connection.cursor() as cursor:
        # ON CONFLICT: the key, used meanwhile for another template's coupon (not this one's: the lock is held).
        cursor.execute(
            f"INSERT INTO coupons_coupon ({columns}) VALUES ({', '.join(['%s'] * len(values))}) "  # noqa: S608
            "ON CONFLICT (shop_id, idempotency_key) DO NOTHING RETURNING id",
            [adapt(v, kind) for v, (_name, kind) in zip(values, COUPON_COLUMNS, strict=True)],
        )
        row = cursor.fetchone()
        if row is None:
            return Issued(_earlier(shop=shop, key=idempotency_key, template=template, member=member), created=False)
        coupon.pk = row[0]
        # tenant-ok: the template row that template_lock read and locked with its shop_id
        cursor.execute("UPDATE coupons_coupontemplate SET issued = issued + 1 WHERE id = %s", [template.pk])
    emit_many(shop_id=shop.pk, events=[issued_event(coupon.pk, member.pk, template.pk, source)])
    coupon._state.adding, coupon._state.db = False, connection.alias
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
    ("shop_id", "int"),
    ("template_id", "int"),
    ("member_id", "int"),
    ("code", "text"),
    ("status", "text"),
    ("source", "text"),
    ("issued_at", "datetime"),
    ("valid_from", "datetime"),
    ("valid_until", "datetime"),
    ("idempotency_key", "text"),
]


@transaction.atomic
def coupons_issue_bulk(
    *,
    shop: Shop,
    template: CouponTemplate,
    member_ids: list[int],
    key_prefix: str,
    source: str,
    now: datetime.datetime | None = None,
) -> BulkIssued:
    """Issue one coupon of `template` to each of `member_ids` (a chunk: up to some ten thousand), set-based. The
    coupon for member m has the key f"{key_prefix}{m}", so a re-run issues only what is missing. Members not
    active, outside the audience or (on limited sources) at the limit are skipped and counted; when the stock
    runs out, the lowest member ids are served first and the rest counted as skipped_stock.

    Raises NotIssuable when the template is paused or ended, or its use window is over."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        # A 10,000-member chunk makes the classification below look costly enough for JIT compilation, which cost
        # about 20 ms a chunk and saved nothing (measured: 7.9 s against 5.9 s of a million-member grant).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # tenant-ok: a setting of this transaction, no rows
    template = template_lock(shop, template)
    issuable_check(template, source=Source.GRANT if source == Source.CLAIM else source, now=now)
    # One probe per member whatever the statistics say: planned from statistics taken before a grant filled the
    # table, an EXISTS on the key was run as a hash of every coupon of the shop (each chunk: a million-member grant
    # slowed as it went), and a count naming the template as a scan of the template's coupons per member. Hence the
    # key as a scalar subquery (the unique index) and the held count over the member's own coupons. The chunk's ids
    # go as one array parameter (10,000 IN placeholders cost Django and psycopg about 0.1 s a chunk to write out).
    key = Concat(Value(key_prefix), Cast(OuterRef("pk"), CharField()))
    held = (
        Coupon.objects.filter(shop=shop, member=OuterRef("pk"))
        .order_by()
        .values("member")
        .annotate(n=Count("pk", filter=Q(template=template)))
        .values("n")
    )
    rows = (
        Member.objects.filter(shop=shop)
        # tenant-ok: narrows the shop's members above to the chunk's ids
        .filter(RawSQL(*in_condition('"members_member"."id"', member_ids), output_field=BooleanField()))  # noqa: S611
        .annotate(
            in_audience=_in_audience(audience_members(shop=shop, template=template, now=now)),
            held=Coalesce(Subquery(held), 0),
            already=Subquery(Coupon.objects.filter(shop=shop, idempotency_key=key).values("pk")[:1]),
        )
        .order_by("pk")
        .values_list("pk", "status", "in_audience", "held", "already")
    )
    result, eligible = BulkIssued(), []
    for pk, status, in_audience, held_count, already in rows:
        result.considered += 1
        if already is not None:
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
    if eligible:
        valid_from, valid_until = use_window(template, issued_at=now, time_zone=shop.time_zone)
        _coupons_insert(
            shop=shop,
            template=template,
            member_ids=eligible,
            key_prefix=key_prefix,
            source=source,
            now=now,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        CouponTemplate.objects.filter(pk=template.pk).update(issued=F("issued") + len(eligible))
    result.issued = len(eligible)
    return result


def _coupons_insert(
    *,
    shop: Shop,
    template: CouponTemplate,
    member_ids: list[int],
    key_prefix: str,
    source: str,
    now: datetime.datetime,
    valid_from: datetime.datetime | None,
    valid_until: datetime.datetime | None,
) -> None:
    """One coupon for each of `member_ids` in one INSERT ... SELECT over an array of the ids: the database makes the
    code (coupons.codes.code_sql) and the key; what every row shares is a parameter."""
    chosen, params = values_cte("chosen", [("member_id", "int")], [(pk,) for pk in member_ids])
    columns = ", ".join(name for name, _kind in COUPON_COLUMNS)
    sql = (
        f"{chosen} INSERT INTO coupons_coupon ({columns}) "  # noqa: S608 - names from code, values as parameters
        f"SELECT %s, %s, member_id, {code_sql()}, %s, %s, %s, %s, %s, %s || CAST(member_id AS text) FROM chosen "
        "RETURNING id, member_id"
    )
    params += [
        shop.pk,
        template.pk,
        str(CouponStatus.AVAILABLE),
        str(source),
        adapt(now, "datetime"),
        adapt(valid_from, "datetime"),
        adapt(valid_until, "datetime"),
        key_prefix,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        issued = cursor.fetchall()
    emit_many(shop_id=shop.pk, events=[issued_event(pk, member_id, template.pk, source) for pk, member_id in issued])


def issued_event(coupon_id: int, member_id: int, template_id: int, source: str) -> NewEvent:
    payload = {"coupon_id": coupon_id, "template_id": template_id, "source": str(source)}
    return NewEvent(EventType.COUPON_ISSUED, member_id, payload)
