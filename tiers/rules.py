"""Pure rules of the tier ladder: no database access. What a valid ladder is (tier_ladder_validate), the windows a
tier's figures are summed over (calendar months are shops.time.add_months).

A ladder is the list of a shop's tiers as the editor sends it: one dict per tier with Tier's editable fields
(EDITABLE_FIELDS). Ranks run 0..n without gaps; rank 0 is the tier held on joining and has no thresholds."""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from members.models import MAX_POINTS
from orders.services import WINDOW_12M
from shops.ids import parse_int
from shops.time import day_start, local_date

from .errors import InvalidLadder
from .models import Combine, Tier, Window

EDITABLE_FIELDS = (
    "rank",
    "name",
    "min_spend",
    "min_orders",
    "min_growth",
    "combine",
    "window",
    "retention_months",
    "discount_rate",
    "points_multiplier",
    "free_shipping",
    "priority_shipping",
    "dedicated_service",
    "description",
)
THRESHOLDS = ("min_spend", "min_orders", "min_growth")
BENEFIT_FLAGS = ("free_shipping", "priority_shipping", "dedicated_service")
MAX_TIERS = 50
RETIRED_RANK = Tier.RETIRED_RANK
MAX_MONEY = Decimal("9999999999.99")  # max_digits=12, decimal_places=2
MAX_ORDERS = 2**31 - 1
MAX_RETENTION_MONTHS = 120
DEFAULTS = {
    "min_spend": None,
    "min_orders": None,
    "min_growth": None,
    "combine": Combine.ALL,
    "window": Window.ROLLING_12M,
    "retention_months": 12,
    "discount_rate": Decimal(1),
    "points_multiplier": Decimal(1),
    "free_shipping": False,
    "priority_shipping": False,
    "dedicated_service": False,
    "description": "",
}


@dataclass(frozen=True)
class TierSpec:
    """What the engine needs to know of one tier: its qualification and retention (tier_id None: not saved yet)."""

    rank: int
    tier_id: int | None
    min_spend: Decimal | None
    min_orders: int | None
    min_growth: int | None
    combine: str
    window: str
    retention_months: int

    @classmethod
    def of(cls, tier) -> "TierSpec":
        """From a Tier, or from a cleaned ladder dict (with an optional "id")."""
        get = tier.get if isinstance(tier, dict) else lambda name, default=None: getattr(tier, name, default)
        return cls(
            rank=get("rank"),
            tier_id=get("id"),
            min_spend=get("min_spend"),
            min_orders=get("min_orders"),
            min_growth=get("min_growth"),
            combine=get("combine"),
            window=get("window"),
            retention_months=get("retention_months"),
        )

    @property
    def qualifies_automatically(self) -> bool:
        """Rank 0 always qualifies; a higher tier without thresholds is assigned by hand only."""
        return self.rank > 0 and any(v is not None for v in (self.min_spend, self.min_orders, self.min_growth))


def window_start(window: str, *, now: datetime, zone: zoneinfo.ZoneInfo) -> datetime | None:
    """Where a window begins at `now` (None: lifetime). The calendar year starts on 1 January, 00:00 in the shop's
    time zone."""
    if window == Window.ROLLING_12M:
        return now - WINDOW_12M
    if window == Window.CALENDAR_YEAR:
        return day_start(zone, date(local_date(zone, now).year, 1, 1))
    return None


def year_end(*, now: datetime, zone: zoneinfo.ZoneInfo) -> date:
    return date(local_date(zone, now).year, 12, 31)


def _fail(message: str, *, index: int, tier: dict | None, field: str, value=None) -> InvalidLadder:
    details = {"index": index, "field": field}
    if isinstance(tier, dict):
        details.update({"rank": tier.get("rank"), "name": tier.get("name")})
    if value is not None:
        details["value"] = str(value)
    return InvalidLadder(message, details=details)


def _decimal(value, *, places: int) -> Decimal:
    """A finite Decimal with at most `places` decimals, from a Decimal, int or numeric string (not a float's
    binary noise: floats go through str). Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError from None
    if not number.is_finite() or number.as_tuple().exponent < -places:
        raise ValueError
    return number


def _integer(value) -> int:
    """A whole number from an int, an integral float or Decimal, or a string of digits. Raises ValueError."""
    if isinstance(value, str) and (whole := parse_int(value.strip())) is not None:
        return whole
    if isinstance(value, float | Decimal):
        try:
            whole = int(value)
        except (OverflowError, ValueError):
            raise ValueError from None
        if whole == value:
            return whole
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError


def _empty(value) -> bool:
    return value is None or isinstance(value, str) and not value.strip()


def _clean_tier(raw, index: int) -> dict:
    if not isinstance(raw, dict):
        raise _fail(_("Each tier must be an object of fields."), index=index, tier=None, field="")
    unknown = sorted(set(raw) - set(EDITABLE_FIELDS) - {"id"})
    if unknown:
        raise _fail(_("Unknown field %(field)s.") % {"field": unknown[0]}, index=index, tier=raw, field=unknown[0])
    tier = {**DEFAULTS, **{k: v for k, v in raw.items() if k != "id"}}

    def fail(message: str, field: str) -> InvalidLadder:
        return _fail(message, index=index, tier=raw, field=field, value=tier.get(field))

    try:
        tier["rank"] = _integer(tier.get("rank"))
    except (TypeError, ValueError):
        raise fail(_("Each tier needs a rank: a whole number from 0."), "rank") from None
    name = tier.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail(_("Each tier needs a name."), "name")
    tier["name"] = name.strip()
    if len(tier["name"]) > 40:
        raise fail(_("A tier's name has at most 40 characters."), "name")

    limits = {"min_spend": MAX_MONEY, "min_orders": MAX_ORDERS, "min_growth": MAX_POINTS}
    for field in THRESHOLDS:
        if _empty(tier[field]):
            tier[field] = None
            continue
        try:
            value = _decimal(tier[field], places=2) if field == "min_spend" else _integer(tier[field])
        except (TypeError, ValueError):
            raise fail(_("%(field)s must be a number.") % {"field": field}, field) from None
        if not 0 <= value <= limits[field]:
            raise fail(_("%(field)s must be between 0 and %(max)s.") % {"field": field, "max": limits[field]}, field)
        tier[field] = value
    if tier["combine"] not in Combine.values:
        raise fail(_("combine must be one of: %(values)s.") % {"values": ", ".join(Combine.values)}, "combine")
    if tier["window"] not in Window.values:
        raise fail(_("window must be one of: %(values)s.") % {"values": ", ".join(Window.values)}, "window")
    try:
        tier["retention_months"] = _integer(tier["retention_months"])
    except (TypeError, ValueError):
        raise fail(_("retention_months must be a whole number of months."), "retention_months") from None
    if not 0 <= tier["retention_months"] <= MAX_RETENTION_MONTHS:
        raise fail(
            _("retention_months must be between 0 and %(max)s.") % {"max": MAX_RETENTION_MONTHS}, "retention_months"
        )

    try:
        tier["discount_rate"] = _decimal(tier["discount_rate"], places=3)
    except (TypeError, ValueError):
        raise fail(_("discount_rate must be a number with at most 3 decimals."), "discount_rate") from None
    if not 0 < tier["discount_rate"] <= 1:
        raise fail(_("discount_rate must be above 0 and at most 1 (0.95 means 5% off)."), "discount_rate")
    try:
        tier["points_multiplier"] = _decimal(tier["points_multiplier"], places=2)
    except (TypeError, ValueError):
        raise fail(_("points_multiplier must be a number with at most 2 decimals."), "points_multiplier") from None
    if not 0 <= tier["points_multiplier"] <= 20:
        raise fail(_("points_multiplier must be between 0 and 20."), "points_multiplier")
    for field in BENEFIT_FLAGS:
        if not isinstance(tier[field], bool):
            raise fail(_("%(field)s must be true or false.") % {"field": field}, field)
    if not isinstance(tier["description"], str) or len(tier["description"]) > 200:
        raise fail(_("The description is text of at most 200 characters."), "description")
    tier["description"] = tier["description"].strip()
    return tier


def tier_ladder_validate(ladder) -> list[dict]:
    """Check and convert a ladder as the editor sent it (numbers may come as strings; missing fields take the
    model's defaults). Returns the tiers sorted by rank, every editable field set. Raises InvalidLadder naming the
    first bad tier (its index in the input, rank and name) and field; nothing is written either way."""
    if not isinstance(ladder, list | tuple) or not ladder:
        raise InvalidLadder(_("A program needs at least one tier."), details={"field": "tiers"})
    if len(ladder) > MAX_TIERS:
        raise InvalidLadder(_("A program has at most %(max)d tiers.") % {"max": MAX_TIERS}, details={"field": "tiers"})
    tiers = [_clean_tier(raw, i) for i, raw in enumerate(ladder)]
    index_of = {id(t): i for i, t in enumerate(tiers)}
    seen_ranks, seen_names = {}, {}
    for tier in tiers:
        i = index_of[id(tier)]
        if tier["rank"] in seen_ranks:
            raise _fail(_("Two tiers have rank %(rank)d.") % {"rank": tier["rank"]}, index=i, tier=tier, field="rank")
        seen_ranks[tier["rank"]] = tier
        key = tier["name"].casefold()
        if key in seen_names:
            raise _fail(_("Two tiers are named %(name)s.") % {"name": tier["name"]}, index=i, tier=tier, field="name")
        seen_names[key] = tier
    for expected, rank in enumerate(sorted(seen_ranks)):
        if rank != expected:
            tier = seen_ranks[rank]
            raise _fail(
                _("Ranks run from 0 without gaps: rank %(expected)d is missing.") % {"expected": expected},
                index=index_of[id(tier)],
                tier=tier,
                field="rank",
            )
    base = seen_ranks[0]
    for field in THRESHOLDS:
        if base[field] is not None:
            raise _fail(
                _("The rank 0 tier is held on joining: it has no thresholds."),
                index=index_of[id(base)],
                tier=base,
                field=field,
                value=base[field],
            )
    return sorted(tiers, key=lambda t: t["rank"])


def ladder_as_json(ladder: list[dict]) -> list[dict]:
    """A cleaned ladder as JSON-ready dicts (decimals as strings), as TierSchedule stores it."""
    return [{k: str(v) if isinstance(v, Decimal) else v for k, v in tier.items()} for tier in ladder]
