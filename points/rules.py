"""Pure rules of the points program: no database access. The points an order earns and why, when points expire,
and what points are worth as cash.

Earning (SPEC 6), for an order paid `amount`:
- eligible amount: the amount paid, less the share of items in excluded categories (the paid amount is spread
  over the items in proportion to their list value, since discounts make it differ from the items' sum);
- base: eligible amount x points per currency unit;
- the tier multiplier adds (multiplier - 1) x base; each bonus rule that applies adds (multiplier - 1) x the base
  of the amount it matches (the whole order, or its matching items) plus its extra points;
- the sum is rounded once, with the program's rounding (down by default: fractions earn nothing), then capped
  at the program's cap per order, and in any case at MAX_POINTS (members.models), the most one operation adds.
Growth value is the eligible amount x growth per currency unit, rounded down, without bonuses, at most MAX_POINTS.
(Otherwise an order of up to 9,999,999,999.99 times the rate, the tier multiplier and the bonuses could earn more
than a bigint holds.)
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from zoneinfo import ZoneInfo

from members.models import MAX_POINTS
from shops.time import add_months, as_local, day_start, local_date, month_bounds, shop_zone

from .models import BonusKind, BonusRule, ExpiryMode, ExpiryRounding, PointsProgram, Rounding

_ROUNDING = {Rounding.DOWN: ROUND_DOWN, Rounding.HALF_UP: ROUND_HALF_UP, Rounding.UP: ROUND_UP}
ONE = Decimal(1)


@dataclass(frozen=True)
class ItemFacts:
    sku: str
    category: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrderFacts:
    """What the rules need to know about an order and its buyer."""

    amount: Decimal
    paid_at: datetime
    items: tuple[ItemFacts, ...] = ()
    first_purchase: bool = False
    birthday_month: int | None = None
    tier_name: str = ""
    tier_multiplier: Decimal = ONE


@dataclass(frozen=True)
class AwardLine:
    """One reason for points: `rule` is base, tier, bonus or cap; `points` is exact (before the one rounding),
    negative for the cap."""

    rule: str
    points: Decimal
    name: str = ""  # the tier's or bonus rule's name
    basis: Decimal | None = None  # the amount the line's points are computed on
    multiplier: Decimal | None = None
    extra: int = 0


@dataclass(frozen=True)
class Award:
    points: int
    growth: int
    lines: tuple[AwardLine, ...] = field(default_factory=tuple)

    def as_details(self) -> dict:
        """A JSON-ready record of the computation, stored with the ledger entry and shown on the order page."""
        return {
            "lines": [
                {
                    "rule": line.rule,
                    "name": line.name,
                    "points": str(line.points),
                    "basis": None if line.basis is None else str(line.basis),
                    "multiplier": None if line.multiplier is None else str(line.multiplier),
                    "extra": line.extra,
                }
                for line in self.lines
            ]
        }


def _item_shares(facts: OrderFacts) -> list[tuple[ItemFacts, Decimal]]:
    """The paid amount spread over the items in proportion to their list value (exact, unrounded)."""
    listed = sum((item.unit_price * item.quantity for item in facts.items), Decimal(0))
    if not facts.items or listed <= 0:
        return []
    return [(item, facts.amount * item.unit_price * item.quantity / listed) for item in facts.items]


def _bonus_applies(rule: BonusRule, facts: OrderFacts, paid_on: date) -> bool:
    if not rule.active or (rule.starts_on and paid_on < rule.starts_on) or (rule.ends_on and paid_on > rule.ends_on):
        return False
    if rule.kind == BonusKind.BIRTHDAY_MONTH:
        return facts.birthday_month == paid_on.month
    if rule.kind == BonusKind.FIRST_PURCHASE:
        return facts.first_purchase
    return True  # date range (checked above), category and SKU (checked on the items)


def points_for_order(
    *, program: PointsProgram, bonus_rules: list[BonusRule], facts: OrderFacts, time_zone: str
) -> Award:
    """The points and growth value an order earns under `program`, with the lines that explain them."""
    rate = program.points_per_unit
    excluded = set(program.excluded_categories)
    if all_shares := _item_shares(facts):
        shares = [(item, share) for item, share in all_shares if item.category not in excluded]
        eligible = sum((share for _item, share in shares), Decimal(0))
    else:  # no items, or items without value: the whole amount earns
        shares, eligible = [], facts.amount
    base = eligible * rate
    lines = [AwardLine("base", base, basis=eligible, multiplier=rate)]
    if facts.tier_multiplier != ONE:
        lines.append(
            AwardLine(
                "tier", base * (facts.tier_multiplier - ONE), name=facts.tier_name, multiplier=facts.tier_multiplier
            )
        )
    paid_on = local_date(time_zone, facts.paid_at)
    for rule in bonus_rules:
        if not _bonus_applies(rule, facts, paid_on):
            continue
        if rule.kind in (BonusKind.CATEGORY, BonusKind.SKU):
            matched = [
                s
                for item, s in shares
                if (item.category if rule.kind == BonusKind.CATEGORY else item.sku) == rule.match
            ]
            if not matched:
                continue
            basis = sum(matched, Decimal(0))
        else:
            basis = eligible
        extra = basis * rate * (rule.multiplier - ONE) + rule.extra_points
        if extra:
            lines.append(
                AwardLine(
                    "bonus", extra, name=rule.name, basis=basis, multiplier=rule.multiplier, extra=rule.extra_points
                )
            )
    total = sum((line.points for line in lines), Decimal(0))
    points = max(int(total.quantize(ONE, rounding=_ROUNDING[program.rounding])), 0)
    cap = MAX_POINTS if program.per_order_cap is None else min(program.per_order_cap, MAX_POINTS)
    if points > cap:
        lines.append(AwardLine("cap", Decimal(cap - points), basis=Decimal(cap)))
        points = cap
    growth = int((eligible * program.growth_per_unit).quantize(ONE, rounding=ROUND_DOWN))
    return Award(points=points, growth=min(max(growth, 0), MAX_POINTS), lines=tuple(lines))


def _round_up_to(zone: ZoneInfo, moment: datetime, rounding: str) -> datetime:
    """The first instant after the end of the month or year containing `moment` (on the shop's clock: expiry is
    exclusive)."""
    if rounding == ExpiryRounding.MONTH_END:
        return month_bounds(zone, local_date(zone, moment))[1]
    if rounding == ExpiryRounding.YEAR_END:
        return day_start(zone, date(local_date(zone, moment).year + 1, 1, 1))
    return moment


def expiry_for(*, program: PointsProgram, time_zone: str, earned_at: datetime) -> datetime | None:
    """When points earned at `earned_at` expire (they are spendable before this instant), computed in the shop's
    time zone so that "the end of the month" is the merchant's. None: never."""
    zone = shop_zone(time_zone)
    local = as_local(zone, earned_at)
    if program.expiry_mode == ExpiryMode.NEVER:
        return None
    if program.expiry_mode == ExpiryMode.FOLLOWING_YEAR_END:
        return day_start(zone, date(local.year + 2, 1, 1))
    if program.expiry_mode == ExpiryMode.AFTER_DAYS:
        moment = local + timedelta(days=program.expiry_period)
    else:
        moment = add_months(zone, local, program.expiry_period)
    return _round_up_to(zone, moment, program.expiry_rounding)


@dataclass(frozen=True)
class CashQuote:
    points: int
    cash: Decimal  # in the shop's currency, rounded down to the cent


def points_cash_quote(*, program: PointsProgram, points: int, order_amount: Decimal) -> CashQuote | str:
    """What `points` pay at checkout on an order of `order_amount`, or the reason they cannot: "cash_disabled",
    "below_minimum", "above_cap" (more than the program's share of the order)."""
    if not program.cash_enabled:
        return "cash_disabled"
    if points < program.cash_min_points:
        return "below_minimum"
    cash = (Decimal(points) / program.points_per_cash_unit).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    if cash > order_amount * program.cash_max_share / 100:
        return "above_cap"
    return CashQuote(points=points, cash=cash)
