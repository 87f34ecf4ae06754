"""Reads on members. Each takes `shop=`; a missing or another shop's member raises Member.DoesNotExist."""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from shops.bulk import models_select
from shops.extensions import MEMBER_SCORES, implementations
from shops.models import Shop

from .filters import DEFAULT_SORT, SORTS, member_filter
from .models import LIVE_SQL, ConsentChange, Member, MemberStatus, MemberTag, Tag


def member_get(*, shop: Shop, pk: int) -> Member:
    return Member.objects.get(shop=shop, pk=pk)


def member_get_live(*, shop: Shop, pk: int) -> Member:
    """A member that is not erased."""
    return Member.objects.exclude(status=MemberStatus.ERASED).get(shop=shop, pk=pk)


def _no_such_member(pk: int) -> bool:
    return not -(2**63) <= pk < 2**63  # no such row; SQLite's driver would refuse the number


def member_get_live_sql(*, shop: Shop, pk: int) -> Member:
    """member_get_live written out (shops.bulk.models_select), for the pages and API writes that read the member on
    every request: the ORM spent more CPU compiling the query than PostgreSQL spent running it."""
    if _no_such_member(pk):
        raise Member.DoesNotExist
    found = models_select(Member, f"shop_id = %s AND id = %s AND {LIVE_SQL}", [shop.pk, pk])
    if not found:
        raise Member.DoesNotExist
    return found[0]


def member_get_live_status(*, shop: Shop, pk: int) -> Member:
    """member_get_live with only the member's id, shop and status read (the other fields load on first use, as
    after QuerySet.only()): for the coupon claim, which reads the member on every request and needs no more.
    Building a whole member cost a claim more CPU than PostgreSQL spent finding it."""
    if _no_such_member(pk):
        raise Member.DoesNotExist
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status FROM members_member WHERE shop_id = %s AND id = %s AND {LIVE_SQL}",  # noqa: S608 - constant
            [shop.pk, pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise Member.DoesNotExist
    return Member.from_db(connection.alias, ["id", "shop_id", "status"], [pk, shop.pk, row[0]])


def member_search(
    *, shop: Shop, phone: str = "", external_id: str = "", tag: Tag | None = None, tier=None
) -> QuerySet[Member]:
    """Exact lookups an integration makes: by E.164 phone, platform buyer id, tag and tier."""
    qs = Member.objects.filter(shop=shop).select_related("tier")
    if tier is not None:
        qs = qs.filter(tier__isnull=True) if tier.rank == 0 else qs.filter(tier=tier)
    if phone:
        qs = qs.filter(phone=phone)
    if external_id:
        qs = qs.filter(external_id=external_id)
    if tag is not None:
        qs = qs.filter(Exists(MemberTag.objects.filter(shop=shop, tag=tag, member=OuterRef("pk"))))
    return qs


# --- Dashboard reads -------------------------------------------------------------------------------------------


@dataclass
class MemberPage:
    """One page of a member list in display order, with the anchors of the neighbouring pages (member ids)."""

    members: list[Member]
    next_after: int | None
    prev_before: int | None


def _sort_keys(sort: str) -> tuple[str, bool]:
    """(field, descending) of a members.filters sort; the member id breaks ties in the same direction."""
    first, _tie = SORTS.get(sort, SORTS[DEFAULT_SORT])
    return first.lstrip("-"), first.startswith("-")


def _after(fields: list[str], values: list, descending: bool) -> Q:
    """Rows strictly after `values` in the lexicographic order of `fields` (all in one direction)."""
    op = "lt" if descending else "gt"
    condition = Q()
    for i, name in enumerate(fields):
        condition |= Q(**{n: v for n, v in zip(fields[:i], values[:i], strict=True)}, **{f"{name}__{op}": values[i]})
    # The redundant bound on the first field lets the database start its index scan at the anchor.
    return Q(**{f"{fields[0]}__{op}e": values[0]}) & condition


def member_page(
    *,
    shop: Shop,
    definition: dict,
    sort: str = DEFAULT_SORT,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> MemberPage:
    """Keyset pagination over members.filters: rows after (or before) an anchor member on (sort key, id), so a page
    deep in a million members costs what the first one does (no OFFSET). Members who never ordered come last in
    either direction of the last-order sort, in both databases. An anchor that is not a member of the shop gives
    the first page. Raises InvalidFilter."""
    field, descending = _sort_keys(sort)
    qs = member_filter(shop=shop, definition=definition)
    # Groups in display order, each with its own index-friendly ORDER BY: the nullable last-order time is split
    # into the members with a value and those without, instead of NULLS LAST, which its index cannot serve.
    if Member._meta.get_field(field).null:
        groups = [(Q(**{f"{field}__isnull": False}), [field, "id"]), (Q(**{f"{field}__isnull": True}), ["id"])]
    else:
        groups = [(Q(), [field, "id"])]
    anchor_id = after or before
    anchor = Member.objects.filter(shop=shop, pk=anchor_id).values(field, "id").first() if anchor_id else None
    backwards = bool(before) and anchor is not None
    # The group the anchor is in: the second (never ordered) when its sort value is empty.
    start = 1 if anchor is not None and len(groups) == 2 and anchor[field] is None else 0
    order = range(start, -1, -1) if backwards else range(start, len(groups))
    rows: list[Member] = []
    for i in order:
        condition, fields = groups[i]
        group = qs.filter(condition)
        desc = descending != backwards
        if anchor is not None and i == start:
            group = group.filter(_after(fields, [anchor[f] for f in fields], desc))
        group = group.order_by(*[f"-{f}" if desc else f for f in fields])
        rows += list(group[: limit + 1 - len(rows)])
        if len(rows) > limit:
            break
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        if not more:  # back at the start: the first page as it is now, full
            return member_page(shop=shop, definition=definition, sort=sort, limit=limit)
        rows.reverse()
        return MemberPage(rows, next_after=rows[-1].pk, prev_before=rows[0].pk)
    return MemberPage(
        rows,
        next_after=rows[-1].pk if more else None,
        prev_before=rows[0].pk if rows and anchor is not None else None,
    )


def member_count(*, shop: Shop, definition: dict) -> int:
    """How many members match `definition`. Raises InvalidFilter."""
    return member_filter(shop=shop, definition=definition).count()


def member_tag_list(*, shop: Shop, member: Member) -> QuerySet[Tag]:
    """The tags on one member, by name."""
    tagged = MemberTag.objects.filter(shop=shop, member=member, tag=OuterRef("pk"))
    return Tag.objects.filter(shop=shop).filter(Exists(tagged)).order_by("name")


def member_consent_history(*, shop: Shop, member: Member) -> QuerySet[ConsentChange]:
    """Every consent change of a member, newest first."""
    return ConsentChange.objects.filter(shop=shop, member=member).order_by("-changed_at", "-pk")


def member_scores(*, shop: Shop, member_ids: list[int]) -> dict[int, dict]:
    """The scores the app implementing shops.extensions MEMBER_SCORES keeps for these members (analytics: churn risk,
    P(alive), predicted value), by member id; members without scores are absent."""
    found = implementations(MEMBER_SCORES)
    return found[0](shop=shop, member_ids=member_ids) if found and member_ids else {}
