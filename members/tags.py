"""Tags on members: manual tags set by staff, imports or the API, and rule tags that hold exactly the members
matching their rule (a members.filters definition). Every bulk change is one INSERT ... SELECT or one DELETE,
never a loop over members."""

from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shops.bulk import adapt, execute_counted
from shops.errors import Conflict
from shops.ids import parse_id
from shops.models import Shop
from shops.services import Actor, audit_record

from .filters import member_filter
from .models import Member, MemberTag, Tag, TagKind


class TagNameTaken(Conflict):
    code = "tag_name_taken"


def tag_list(*, shop: Shop) -> QuerySet[Tag]:
    return Tag.objects.filter(shop=shop).order_by("name")


def tag_get(*, shop: Shop, pk: int) -> Tag:
    return Tag.objects.get(shop=shop, pk=pk)


def tag_find(*, shop: Shop, name_or_id: str) -> Tag:
    """A tag by its id or its exact name. Raises Tag.DoesNotExist."""
    tags = Tag.objects.filter(shop=shop)
    pk = parse_id(name_or_id)
    return tags.get(pk=pk) if pk is not None else tags.get(name=name_or_id)


def tags_of_members(*, shop: Shop, member_ids: list[int]) -> dict[int, list[str]]:
    """Tag names per member, in one query."""
    result: dict[int, list[str]] = {pk: [] for pk in member_ids}
    rows = MemberTag.objects.filter(shop=shop, member_id__in=member_ids).values_list("member_id", "tag__name")
    for member_id, name in rows.order_by("tag__name"):
        result[member_id].append(name)
    return result


@transaction.atomic
def tag_create(*, shop: Shop, actor: Actor, name: str, rule: dict | None = None) -> Tag:
    """A manual tag, or a rule tag when `rule` is given (validated by compiling it). Raises TagNameTaken,
    InvalidFilter."""
    name = name.strip()
    if rule is not None:
        member_filter(shop=shop, definition=rule)  # raises InvalidFilter for a bad rule
    if Tag.objects.filter(shop=shop, name=name).exists():
        raise TagNameTaken(_("A tag named %(name)s already exists.") % {"name": name})
    tag = Tag.objects.create(
        shop=shop, name=name, kind=TagKind.RULE if rule is not None else TagKind.MANUAL, rule=rule or {}
    )
    audit_record(shop=shop, actor=actor, action="tag.create", obj=tag, changes={"rule": ["", str(rule or "")]})
    return tag


def _insert_tag_rows(*, shop: Shop, tag: Tag, members: QuerySet[Member]) -> int:
    """Tag every member of `members` not tagged yet, in one INSERT ... SELECT. Returns how many were added."""
    select_sql, params = members.order_by().values_list("id").query.sql_with_params()
    sql = f"""INSERT INTO members_membertag (shop_id, tag_id, member_id, created_at)
              SELECT %s, %s, q.id, %s FROM ({select_sql}) AS q
              WHERE true  -- SQLite needs a WHERE to tell the upsert's ON from a join's
              ON CONFLICT (shop_id, tag_id, member_id) DO NOTHING"""  # noqa: S608 - the ORM wrote the SELECT
    with connection.cursor() as cursor:
        return execute_counted(cursor, sql, [shop.pk, tag.pk, adapt(timezone.now(), "datetime"), *params])


def _lock(tag: Tag) -> None:
    list(Tag.objects.select_for_update().filter(pk=tag.pk).values_list("pk"))


def _recount(tag: Tag) -> None:
    """Store the tag's member count. Callers hold the tag's row lock (_lock) from before they change its members, so
    writers of one tag take turns and each count sees the previous writer's rows."""
    Tag.objects.filter(pk=tag.pk).update(
        member_count=MemberTag.objects.filter(shop_id=tag.shop_id, tag=tag).count(), refreshed_at=timezone.now()
    )


def _tag_members(*, shop: Shop, tag: Tag, actor: Actor, members: QuerySet[Member], remove: bool) -> int:
    assert tag.shop_id == shop.pk and tag.kind == TagKind.MANUAL
    _lock(tag)
    if remove:
        changed, _by_model = MemberTag.objects.filter(shop=shop, tag=tag, member__in=members.values("pk")).delete()
    else:
        changed = _insert_tag_rows(shop=shop, tag=tag, members=members)
    _recount(tag)
    action = "tag.remove" if remove else "tag.add"
    audit_record(shop=shop, actor=actor, action=action, obj=tag, changes={"members": ["", str(changed)]})
    return changed


@transaction.atomic
def tag_apply(*, shop: Shop, tag: Tag, actor: Actor, definition: dict, remove: bool = False) -> int:
    """Add the manual `tag` to (or with remove=True, take it from) every member matching `definition`.
    Returns the number of members changed."""
    members = member_filter(shop=shop, definition=definition)
    return _tag_members(shop=shop, tag=tag, actor=actor, members=members, remove=remove)


@transaction.atomic
def member_tag_change(*, shop: Shop, tag: Tag, member: Member, actor: Actor, remove: bool = False) -> bool:
    """Add the manual `tag` to one member (or take it away). Returns whether anything changed."""
    members = Member.objects.filter(shop=shop, pk=member.pk)
    return bool(_tag_members(shop=shop, tag=tag, actor=actor, members=members, remove=remove))


@transaction.atomic
def tag_refresh(*, shop: Shop, tag: Tag) -> tuple[int, int]:
    """Make a rule tag hold exactly the members its rule matches now: one INSERT ... SELECT for the newcomers, one
    DELETE for the leavers. Idempotent. Returns (added, removed)."""
    assert tag.shop_id == shop.pk and tag.kind == TagKind.RULE
    _lock(tag)
    members = member_filter(shop=shop, definition=tag.rule)
    added = _insert_tag_rows(shop=shop, tag=tag, members=members)
    removed, _by_model = MemberTag.objects.filter(shop=shop, tag=tag).exclude(member__in=members.values("pk")).delete()
    _recount(tag)
    return added, removed


def tags_refresh_all(*, shop: Shop) -> dict[str, tuple[int, int]]:
    """Refresh every rule tag of the shop (the nightly job and the dashboard's "refresh now")."""
    return {tag.name: tag_refresh(shop=shop, tag=tag) for tag in Tag.objects.filter(shop=shop, kind=TagKind.RULE)}


def new_member_tag(*, shop: Shop, member: Member, tags: list[Tag]) -> None:
    """Give manual `tags` to a member who has just joined (a channel's tags), in the joining transaction. Adds
    one to each tag's count instead of recounting under the tag's lock: joins through a busy channel do not queue
    on its tags. Rule tags are left to their refresh."""
    manual = [t for t in tags if t.kind == TagKind.MANUAL]
    assert all(t.shop_id == shop.pk for t in manual) and member.shop_id == shop.pk
    MemberTag.objects.bulk_create([MemberTag(shop=shop, tag=t, member=member) for t in manual], ignore_conflicts=True)
    Tag.objects.filter(shop=shop, pk__in=[t.pk for t in manual]).update(member_count=F("member_count") + 1)
