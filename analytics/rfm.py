"""RFM (SPEC 14): each member's recency, frequency and monetary score within the shop, the 5x5 grid and the eight
groups merchants in China use, written nightly (rfm_compute) so that the page and member filters read a table.

The basis is the member's cached lifetime figures (members.figures keeps them with each order): recency from
`last_order_at`, frequency from `order_count`, monetary from `lifetime_spend` (counted orders, refunds netted).
Lifetime rather than the 12-month columns because a member who has not bought for a year has 0 orders and 0 spend
in the last 12 months: every lapsed member would score F 1 and M 1, and the "important to keep / win back" groups,
big spenders who stopped buying, would be empty by construction. Recency already says how recent.

Scores: among the shop's members who have ordered (not erased), by rank: score = 1 + floor(5 * (members with a
strictly lower value) / members), so 1-5 with about a fifth of members each, and members with equal values always
share a score (ties never split across quintiles, and the result does not depend on row order). With many equal
values (most members bought once) a quintile can be empty: honest rather than an arbitrary split of equals.

Groups: a score is "high" when it is 3 or more (the upper three quintiles). M high makes a member "important":
R high and F high: value; R high, F low: to develop; R low, F high: to keep; R low, F low: to win back.

A segment selects a cell or a group through the definition keys `rfm` (["R5F4"] or ["R5F4M3"]) and `rfm_groups`
(["important_value"]), which members.filters resolves through this module (shops.extensions MEMBER_FILTER_KEY)."""

import datetime
import re

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from members.filters import InvalidFilter
from members.models import LIVE_SQL, Segment
from members.segments import SegmentNameTaken, segment_list, segment_save
from shops.models import Shop
from shops.services import Actor

from .models import DeepState, MemberRfm, RfmCell, RfmGroup

HIGH = 3  # a score of HIGH or more is "high"
SCORES = range(1, 6)
CELL = re.compile(r"^R([1-5])F([1-5])(?:M([1-5]))?$")

# (M high, R high, F high) -> group
GROUP_OF = {
    (True, True, True): RfmGroup.IMPORTANT_VALUE,
    (True, True, False): RfmGroup.IMPORTANT_DEVELOP,
    (True, False, True): RfmGroup.IMPORTANT_KEEP,
    (True, False, False): RfmGroup.IMPORTANT_WIN_BACK,
    (False, True, True): RfmGroup.ORDINARY_VALUE,
    (False, True, False): RfmGroup.ORDINARY_DEVELOP,
    (False, False, True): RfmGroup.ORDINARY_KEEP,
    (False, False, False): RfmGroup.ORDINARY_WIN_BACK,
}


def group_of(r: int, f: int, m: int) -> str:
    return GROUP_OF[(m >= HIGH, r >= HIGH, f >= HIGH)]


def _score(column: str) -> str:
    return f"1 + (5 * (RANK() OVER (ORDER BY {column}) - 1)) / COUNT(*) OVER ()"


def _group_case() -> tuple[str, list]:
    whens, params = [], []
    for (m_high, r_high, f_high), group in GROUP_OF.items():
        ops = [("m", m_high), ("r", r_high), ("f", f_high)]
        tests = " AND ".join(f"{name} {'>=' if high else '<'} {HIGH}" for name, high in ops)
        whens.append(f"WHEN {tests} THEN %s")
        params.append(group.value)
    return "CASE " + " ".join(whens) + " END", params


@transaction.atomic
def rfm_compute(*, shop: Shop, now: datetime.datetime | None = None) -> int:
    """Replace the shop's member scores and cells, set-based (one INSERT ... SELECT with window functions, then one
    GROUP BY). Running it twice changes nothing. Returns the members scored."""
    now = now or timezone.now()
    group_case, group_params = _group_case()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_rfmcell WHERE shop_id = %s", [shop.pk])
        cursor.execute("DELETE FROM analytics_memberrfm WHERE shop_id = %s", [shop.pk])
        cursor.execute(
            f"""
            INSERT INTO analytics_memberrfm (shop_id, member_id, r, f, m, {quote("group")})
            SELECT shop_id, id, r, f, m, {group_case}
            FROM (
                SELECT shop_id, id,
                       {_score("last_order_at")} AS r,
                       {_score("order_count")} AS f,
                       {_score("lifetime_spend")} AS m
                FROM members_member
                WHERE shop_id = %s AND {LIVE_SQL} AND order_count > 0 AND last_order_at IS NOT NULL
            ) scored
            """,  # noqa: S608 - no value is formatted in: the group names and the shop are parameters
            [*group_params, shop.pk],
        )
        scored = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO analytics_rfmcell (shop_id, r, f, m, members, spend)
            SELECT x.shop_id, x.r, x.f, x.m, COUNT(*), COALESCE(SUM(mm.lifetime_spend), 0)
            FROM analytics_memberrfm x
            JOIN members_member mm ON mm.id = x.member_id AND mm.shop_id = x.shop_id
            WHERE x.shop_id = %s
            GROUP BY x.shop_id, x.r, x.f, x.m
            """,
            [shop.pk],
        )
    DeepState.objects.update_or_create(shop=shop, defaults={"rfm_at": now})
    return scored


# --- Member filter keys (registered in analytics.apps) ------------------------------------------------------------


def _values(key: str, value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidFilter(_("%(key)s must be a list of codes.") % {"key": key}, details={key: value})
    return list(value)


def rfm_cells_condition(*, shop: Shop, value) -> Q:
    """`rfm`: members in any of these cells, "R5F4" (any M) or "R5F4M3". Raises InvalidFilter."""
    cells = Q()
    for code in _values("rfm", value):
        match = CELL.match(code)
        if match is None:
            raise InvalidFilter(_("Unknown RFM cell: %(code)s") % {"code": code}, details={"rfm": value})
        r, f, m = match.groups()
        cell = Q(r=int(r), f=int(f))
        if m:
            cell &= Q(m=int(m))
        cells |= cell
    return Q(Exists(MemberRfm.objects.filter(cells, shop=shop, member=OuterRef("pk"))))


def rfm_groups_condition(*, shop: Shop, value) -> Q:
    """`rfm_groups`: members in any of these groups (RfmGroup values). Raises InvalidFilter."""
    groups = _values("rfm_groups", value)
    unknown = sorted(set(groups) - set(RfmGroup.values))
    if unknown:
        raise InvalidFilter(_("Unknown RFM group: %(code)s") % {"code": ", ".join(unknown)})
    return Q(Exists(MemberRfm.objects.filter(shop=shop, member=OuterRef("pk"), group__in=groups)))


# --- Reads and the segment of a cell or group ---------------------------------------------------------------------


def rfm_grid(*, shop: Shop) -> dict:
    """The page's figures from the cells: the 5x5 grid (R rows 5..1, F columns 1..5) with members, share, average
    spend and the members by M score; the eight groups with members and spend. Members: those scored."""
    rows = list(RfmCell.objects.filter(shop=shop).values("r", "f", "m", "members", "spend"))
    total = sum(c["members"] for c in rows)
    grid = {(r, f): {"r": r, "f": f, "members": 0, "spend": 0, "by_m": [0] * 5} for r in SCORES for f in SCORES}
    groups = {g: {"group": g, "members": 0, "spend": 0} for g in RfmGroup}
    for c in rows:
        cell = grid[(c["r"], c["f"])]
        cell["members"] += c["members"]
        cell["spend"] += c["spend"]
        cell["by_m"][c["m"] - 1] += c["members"]
        group = groups[group_of(c["r"], c["f"], c["m"])]
        group["members"] += c["members"]
        group["spend"] += c["spend"]
    for item in (*grid.values(), *groups.values()):
        item["share"] = item["members"] / total if total else 0
        item["avg_spend"] = item["spend"] / item["members"] if item["members"] else None
    return {"total": total, "grid": grid, "groups": list(groups.values())}


def cell_definition(*, r: int, f: int) -> dict:
    return {"rfm": [f"R{r}F{f}"]}


def group_definition(*, group: str) -> dict:
    return {"rfm_groups": [group]}


def _free_name(shop: Shop, name: str) -> str:
    taken = set(Segment.objects.filter(shop=shop, name__startswith=name).values_list("name", flat=True))
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name} ({n})"
    return candidate


def rfm_segment(*, shop: Shop, actor: Actor, definition: dict, name: str) -> Segment:
    """The shop's segment with exactly this definition, created (named `name`, or `name (2)`... when taken) unless
    one exists. Raises InvalidFilter for a definition that does not compile."""
    for segment in segment_list(shop=shop):
        if segment.definition == definition:
            return segment
    try:
        return segment_save(shop=shop, actor=actor, name=_free_name(shop, name), definition=definition)
    except SegmentNameTaken:  # created at the same moment by someone else: take the next free name
        return segment_save(shop=shop, actor=actor, name=_free_name(shop, name), definition=definition)
