"""Member filters: one definition (a JSON-able dict) compiled to one SQL query. The member list, rule tags and
segments all use it, so "spent over 2000 in 12 months" means the same everywhere.

A definition holds any of these keys (absent keys do not filter):

    q                 search text: a phone (any format, exact), a name prefix, or a platform buyer id
    tiers             [tier id, ...] holds one of these tiers
    tags_any          [tag id, ...]  has at least one of these tags
    tags_all          [tag id, ...]  has all of these tags
    tags_none         [tag id, ...]  has none of these tags
    spend_min/max     lifetime spend (money, inclusive)
    spend_12m_min/max spend in the last 12 months
    orders_min/max    lifetime order count
    orders_12m_min    orders in the last 12 months
    last_order_within_days   bought in the last N days
    last_order_before_days   has not bought for N days (members who never bought included)
    never_ordered     true: no order yet
    birthday_month    [1-12, ...]
    regions           [region, ...] (prefix match: "广东" matches "广东省 深圳市")
    genders           [female|male|unknown, ...]
    age_min/max       in whole years (members with a birth year only)
    join_channels     [channel, ...]
    consent           [sms|push|email, ...]  has opted in to each
    statuses          [active|frozen, ...]  (default: active and frozen; erased members are never listed)
    joined_after/joined_before   ISO dates, in the shop's time zone

and the keys that apps above members resolve through their own tables (shops.extensions MEMBER_FILTER_KEY):

    rfm               ["R5F4", "R5F4M3", ...]  in one of these RFM cells (analytics.rfm)
    rfm_groups        ["important_value", ...]  in one of these RFM groups (analytics.rfm)
    churn_risk        ["high", ...]  in one of these churn-risk bands (analytics.clv.filters)
    predicted_value_min   predicted 12-month value at least this (analytics.clv.filters)
"""

import datetime
from decimal import Decimal, InvalidOperation

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shops.errors import ApplicationError
from shops.extensions import MEMBER_FILTER_KEY, TIER_LOOKUP, by_key, implementation
from shops.ids import BIGINT_MAX, BIGINT_MIN, parse_int
from shops.models import Shop
from shops.time import day_start, local_today, shop_zone

from .models import ConsentChannel, Gender, Member, MemberStatus, MemberTag
from .phones import InvalidPhone, normalize_phone

SORTS = {
    "-last_order_at": ("-last_order_at", "-id"),
    "last_order_at": ("last_order_at", "id"),
    "-joined_at": ("-joined_at", "-id"),
    "joined_at": ("joined_at", "id"),
    "-lifetime_spend": ("-lifetime_spend", "-id"),
    "-spend_12m": ("-spend_12m", "-id"),
    "-order_count": ("-order_count", "-id"),
    "name": ("name", "id"),
}
DEFAULT_SORT = "-joined_at"
# Every key member_filter reads (the module docstring): callers that must refuse a typo rather than ignore it (a
# campaign's audience, where an ignored condition means messaging everyone) check definitions against it.
FILTER_KEYS = frozenset(
    {
        "q", "tiers", "tags_any", "tags_all", "tags_none", "spend_min", "spend_max", "spend_12m_min", "spend_12m_max",
        "orders_min", "orders_max", "orders_12m_min", "last_order_within_days", "last_order_before_days",
        "never_ordered", "birthday_month", "regions", "genders", "age_min", "age_max", "join_channels", "consent",
        "statuses", "joined_after", "joined_before",
    }
)  # fmt: skip


class InvalidFilter(ApplicationError):
    code = "invalid_filter"


def _whole(value) -> int | None:
    """A definition's number: an int within bigint (what the forms store), or text of ASCII digits (shops.ids)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if BIGINT_MIN <= value <= BIGINT_MAX else None
    return parse_int(value)


def _ints(definition: dict, key: str) -> list[int]:
    values = definition.get(key) or []
    numbers = [_whole(v) for v in values] if isinstance(values, list | tuple) else [None]
    if None in numbers:
        raise InvalidFilter(_("%(key)s must be a list of numbers.") % {"key": key}, details={key: values})
    return numbers


def _decimal(definition: dict, key: str) -> Decimal | None:
    value = definition.get(key)
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():  # "NaN" and "Infinity" parse, but compare with nothing
        raise InvalidFilter(_("%(key)s must be an amount.") % {"key": key}, details={key: value})
    return amount


def _int(definition: dict, key: str, *, minimum: int = BIGINT_MIN, maximum: int = BIGINT_MAX) -> int | None:
    value = definition.get(key)
    if value in (None, ""):
        return None
    if (number := _whole(value)) is None or not minimum <= number <= maximum:  # days, years: a date must exist
        raise InvalidFilter(_("%(key)s must be a whole number.") % {"key": key}, details={key: value})
    return number


MAX_DAYS = 100 * 366  # a day count beyond a century names no date a member could have (and overflows timedelta)
MAX_AGE = 200


def _date(definition: dict, key: str) -> datetime.date | None:
    value = definition.get(key)
    if not value:
        return None
    try:
        day = datetime.date.fromisoformat(str(value))
    except ValueError:
        day = None
    # Years far from ours name no joining day, and the first and last days overflow once moved to UTC.
    if day is None or not 1900 <= day.year <= 9998:
        raise InvalidFilter(_("%(key)s must be a date (YYYY-MM-DD).") % {"key": key}, details={key: value})
    return day


def _texts(definition: dict, key: str) -> list[str]:
    """A list of words (text or numbers). Definitions arrive as JSON from the API (a campaign's audience): a bare
    value or a nested object is refused, not iterated."""
    values = definition.get(key) or []
    ok = isinstance(values, list | tuple) and all(
        isinstance(v, str | int) and not isinstance(v, bool) and "\x00" not in str(v) for v in values
    )
    if not ok:
        raise InvalidFilter(_("%(key)s must be a list of words.") % {"key": key}, details={key: values})
    return [str(v) for v in values]


def _choices(definition: dict, key: str, allowed) -> list[str]:
    values = _texts(definition, key)
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise InvalidFilter(_("Unknown %(key)s: %(values)s") % {"key": key, "values": ", ".join(unknown)})
    return values


def _in_tiers(shop: Shop, tier_ids: list[int]) -> Q:
    # Members on the joining tier (rank 0) hold no tier row: Member.tier is NULL for them.
    base = implementation(TIER_LOOKUP).tier_base_of(shop=shop)
    if base is None or base.pk not in tier_ids:
        return Q(tier_id__in=tier_ids)
    return Q(tier_id__in=[pk for pk in tier_ids if pk != base.pk]) | Q(tier__isnull=True)


def _has_tag(shop: Shop, tag_ids) -> Exists:
    return Exists(MemberTag.objects.filter(shop=shop, member=OuterRef("pk"), tag_id__in=tag_ids))


def _search(q: str) -> Q:
    q = q.strip()
    try:
        return Q(phone=normalize_phone(q))
    except InvalidPhone:
        return Q(name__startswith=q) | Q(external_id=q)


def member_filter(*, shop: Shop, definition: dict, now: datetime.datetime | None = None) -> QuerySet[Member]:
    """The members of `shop` matching `definition` (see the module docstring). Raises InvalidFilter."""
    if not isinstance(definition, dict):
        raise InvalidFilter(_("A filter is an object of conditions."))
    now = now or timezone.now()
    tz = shop_zone(shop)
    statuses = _choices(definition, "statuses", [MemberStatus.ACTIVE, MemberStatus.FROZEN]) or [
        MemberStatus.ACTIVE,
        MemberStatus.FROZEN,
    ]
    if set(statuses) == {MemberStatus.ACTIVE, MemberStatus.FROZEN}:
        # Written as "not erased" so that the partial index member_shop_live can answer counts index-only.
        qs = Member.objects.filter(shop=shop).exclude(status=MemberStatus.ERASED)
    else:
        qs = Member.objects.filter(shop=shop, status__in=statuses)
    if definition.get("q"):
        if "\x00" in str(definition["q"]):  # PostgreSQL text cannot hold NUL: refused, not a database error
            raise InvalidFilter(_("The search text cannot contain NUL characters."), details={"q": definition["q"]})
        qs = qs.filter(_search(str(definition["q"])))
    if tier_ids := _ints(definition, "tiers"):
        qs = qs.filter(_in_tiers(shop, tier_ids))
    if tags := _ints(definition, "tags_any"):
        qs = qs.filter(_has_tag(shop, tags))
    for tag in _ints(definition, "tags_all"):
        qs = qs.filter(_has_tag(shop, [tag]))
    if tags := _ints(definition, "tags_none"):
        qs = qs.exclude(_has_tag(shop, tags))
    for key, field, op in (
        ("spend_min", "lifetime_spend", "gte"),
        ("spend_max", "lifetime_spend", "lte"),
        ("spend_12m_min", "spend_12m", "gte"),
        ("spend_12m_max", "spend_12m", "lte"),
    ):
        if (value := _decimal(definition, key)) is not None:
            qs = qs.filter(**{f"{field}__{op}": value})
    for key, field, op in (
        ("orders_min", "order_count", "gte"),
        ("orders_max", "order_count", "lte"),
        ("orders_12m_min", "orders_12m", "gte"),
    ):
        if (value := _int(definition, key)) is not None:
            qs = qs.filter(**{f"{field}__{op}": value})
    if (days := _int(definition, "last_order_within_days", minimum=0, maximum=MAX_DAYS)) is not None:
        qs = qs.filter(last_order_at__gte=now - datetime.timedelta(days=days))
    if (days := _int(definition, "last_order_before_days", minimum=0, maximum=MAX_DAYS)) is not None:
        qs = qs.filter(Q(last_order_at__lt=now - datetime.timedelta(days=days)) | Q(last_order_at__isnull=True))
    if definition.get("never_ordered"):
        qs = qs.filter(order_count=0)
    if months := _ints(definition, "birthday_month"):
        qs = qs.filter(birthday_month__in=months)
    if regions := [r for r in _texts(definition, "regions") if r.strip()]:
        region_q = Q()
        for region in regions:
            region_q |= Q(region__startswith=region.strip())
        qs = qs.filter(region_q)
    if genders := _choices(definition, "genders", Gender.values):
        qs = qs.filter(gender__in=genders)
    today = local_today(tz, now)
    if (age := _int(definition, "age_min", minimum=0, maximum=MAX_AGE)) is not None:
        qs = qs.filter(birth_year__lte=today.year - age)
    if (age := _int(definition, "age_max", minimum=0, maximum=MAX_AGE)) is not None:
        qs = qs.filter(birth_year__gte=today.year - age)
    if channels := _texts(definition, "join_channels"):
        qs = qs.filter(join_channel__in=channels)
    for channel in _choices(definition, "consent", ConsentChannel.values):
        qs = qs.filter(**{f"consent_{channel}": True})
    if day := _date(definition, "joined_after"):
        qs = qs.filter(joined_at__gte=day_start(tz, day))
    if day := _date(definition, "joined_before"):
        qs = qs.filter(joined_at__lt=day_start(tz, day))
    for key, condition in by_key(MEMBER_FILTER_KEY).items():
        if definition.get(key) not in (None, "", []):
            qs = qs.filter(condition(shop=shop, value=definition[key]))
    return qs


def member_sort(qs: QuerySet[Member], sort: str) -> QuerySet[Member]:
    return qs.order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))
