"""Changes to a shop's points rules (SPEC 6): the program's settings and its bonus rules.

Every change is checked in full before anything is saved (a bad value is an ApplicationError naming its field in
`details`, and nothing changes) and is recorded in the audit log with each changed field before and after. Changes
apply to points earned afterwards: an earned lot keeps the expiry it was given, an entry keeps its explanation."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from shops.errors import ApplicationError
from shops.models import Shop
from shops.services import Actor, audit_record

from .models import BonusKind, BonusRule, ExpiryMode, PointsProgram
from .rules import OrderFacts, points_for_order

PROGRAM_FIELDS = (
    "points_per_unit",
    "rounding",
    "per_order_cap",
    "excluded_categories",
    "pending_days",
    "expiry_mode",
    "expiry_period",
    "expiry_rounding",
    "reminder_days",
    "cash_enabled",
    "points_per_cash_unit",
    "cash_min_points",
    "cash_max_share",
    "profile_completion_points",
    "profile_completion_growth",
    "growth_per_unit",
)
BONUS_FIELDS = ("name", "kind", "match", "starts_on", "ends_on", "multiplier", "extra_points", "active")
MAX_PENDING_DAYS = 365
MAX_REMINDER_DAYS = 365
MAX_EXPIRY = {ExpiryMode.AFTER_DAYS: 3660, ExpiryMode.AFTER_MONTHS: 120}
MAX_CATEGORIES = 50
MIN_MULTIPLIER, MAX_MULTIPLIER = Decimal(1), Decimal(20)


class InvalidRules(ApplicationError):
    code = "invalid_rules"


def _invalid(field: str, message: str) -> InvalidRules:
    return InvalidRules(message, details={field: message})


def bonus_rule_get(*, shop: Shop, pk: int) -> BonusRule:
    """One bonus rule of the shop. Raises BonusRule.DoesNotExist (missing or another shop's)."""
    return BonusRule.objects.get(shop=shop, pk=pk)


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


def _changes(before: dict, after: dict) -> dict:
    return {name: [_as_text(before[name]), _as_text(after[name])] for name in after if before[name] != after[name]}


def _full_clean(obj) -> None:
    """The model's own field checks (types, choices, limits) as an InvalidRules naming the first bad field. The
    table's CHECK constraints are covered by the checks that follow, with clearer messages."""
    try:
        obj.full_clean(exclude=["shop"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        names = {f.name for f in obj._meta.fields}
        message = (
            f"{capfirst(obj._meta.get_field(field).verbose_name)}: {messages[0]}" if field in names else messages[0]
        )
        raise _invalid(field, message) from None


def _clean_categories(value) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _invalid("excluded_categories", _("Excluded categories must be a list of category names."))
    categories = list(dict.fromkeys(v.strip() for v in value))  # without repeats, in the order given
    if len(categories) > MAX_CATEGORIES:
        raise _invalid("excluded_categories", _("At most %(count)s excluded categories.") % {"count": MAX_CATEGORIES})
    if any(len(v) > 64 for v in categories):
        raise _invalid("excluded_categories", _("A category name has at most 64 characters."))
    return categories


def _check_program(program: PointsProgram) -> None:
    if program.points_per_unit < 0:
        raise _invalid("points_per_unit", _("Points per currency unit cannot be negative."))
    if program.per_order_cap is not None and program.per_order_cap < 1:
        raise _invalid("per_order_cap", _("A cap must be at least 1 point; leave it empty for no cap."))
    if program.pending_days > MAX_PENDING_DAYS:
        raise _invalid("pending_days", _("Points can wait at most %(days)s days.") % {"days": MAX_PENDING_DAYS})
    if program.expiry_mode in MAX_EXPIRY and not 1 <= program.expiry_period <= MAX_EXPIRY[program.expiry_mode]:
        message = (
            _("Points expiring after a number of days need a period from 1 to %(max)s days.")
            if program.expiry_mode == ExpiryMode.AFTER_DAYS
            else _("Points expiring after a number of months need a period from 1 to %(max)s months.")
        )
        raise _invalid("expiry_period", message % {"max": MAX_EXPIRY[program.expiry_mode]})
    if program.reminder_days > MAX_REMINDER_DAYS:
        raise _invalid(
            "reminder_days", _("A reminder comes at most %(days)s days before expiry.") % {"days": MAX_REMINDER_DAYS}
        )
    if program.points_per_cash_unit < 1:
        raise _invalid("points_per_cash_unit", _("Points per currency unit of cash must be at least 1."))
    if program.cash_enabled and not 1 <= program.cash_max_share <= 100:
        raise _invalid("cash_max_share", _("With points as cash, the maximum share is from 1 to 100 percent."))
    if program.growth_per_unit < 0:
        raise _invalid("growth_per_unit", _("Growth value per currency unit cannot be negative."))


@transaction.atomic
def points_program_update(*, shop: Shop, actor: Actor, **fields) -> PointsProgram:
    """Change the shop's points rules (any of PROGRAM_FIELDS). Audited as "points.rules" with each changed field
    before and after; nothing is recorded when nothing changed. Raises InvalidRules (nothing saved)."""
    if unknown := set(fields) - set(PROGRAM_FIELDS):
        raise InvalidRules(details={"fields": sorted(unknown)})
    if "excluded_categories" in fields:
        fields["excluded_categories"] = _clean_categories(fields["excluded_categories"])
    program = PointsProgram.objects.select_for_update().get(shop=shop)
    before = {name: getattr(program, name) for name in PROGRAM_FIELDS}
    for name, value in fields.items():
        setattr(program, name, value)
    _full_clean(program)  # also turns strings into the fields' types
    _check_program(program)
    program.save()
    program.refresh_from_db()  # the stored values (decimals quantized), for the audit and the caller
    if changes := _changes(before, {name: getattr(program, name) for name in PROGRAM_FIELDS}):
        audit_record(shop=shop, actor=actor, action="points.rules", changes=changes)
    return program


def _check_rule(rule: BonusRule) -> None:
    if not rule.name.strip():
        raise _invalid("name", _("Give the bonus rule a name."))
    if rule.kind in (BonusKind.CATEGORY, BonusKind.SKU) and not rule.match.strip():
        message = _("Name the category.") if rule.kind == BonusKind.CATEGORY else _("Name the SKU.")
        raise _invalid("match", message)
    if rule.kind == BonusKind.DATE_RANGE and not (rule.starts_on and rule.ends_on):
        raise _invalid("ends_on", _("A date range needs its first and its last day."))
    if rule.starts_on and rule.ends_on and rule.starts_on > rule.ends_on:
        raise _invalid("ends_on", _("The last day cannot be before the first day."))
    if not MIN_MULTIPLIER <= rule.multiplier <= MAX_MULTIPLIER:
        raise _invalid("multiplier", _("The multiplier is from 1 to 20 (2 means double points)."))
    if rule.extra_points < 0:
        raise _invalid("extra_points", _("Extra points cannot be negative."))
    if rule.multiplier == MIN_MULTIPLIER and not rule.extra_points:
        raise _invalid("multiplier", _("A bonus rule needs a multiplier above 1 or extra points."))


def _rule_state(rule: BonusRule | None) -> dict:
    return {name: getattr(rule, name) if rule else None for name in BONUS_FIELDS}


@transaction.atomic
def bonus_rule_save(*, shop: Shop, actor: Actor, rule: BonusRule | None = None, **fields) -> BonusRule:
    """Create a bonus rule (rule=None: name and kind required) or change some fields of `rule`. A category or SKU
    rule needs `match`; other kinds keep none. Audited as "points.bonus_rule". Raises InvalidRules (nothing saved)."""
    if unknown := set(fields) - set(BONUS_FIELDS):
        raise InvalidRules(details={"fields": sorted(unknown)})
    if rule is not None:
        assert rule.shop_id == shop.pk
        rule = BonusRule.objects.select_for_update().get(shop=shop, pk=rule.pk)
    before = _rule_state(rule)
    rule = rule or BonusRule(shop=shop)
    for name, value in fields.items():
        setattr(rule, name, value.strip() if isinstance(value, str) else value)
    if rule.kind not in (BonusKind.CATEGORY, BonusKind.SKU):
        rule.match = ""  # only category and SKU rules match anything; a leftover value would mislead
    _full_clean(rule)
    _check_rule(rule)
    rule.save()
    rule.refresh_from_db()
    after = _rule_state(rule)
    if changes := _changes(before, after):
        audit_record(shop=shop, actor=actor, action="points.bonus_rule", obj=rule, changes=changes)
    return rule


@transaction.atomic
def bonus_rule_delete(*, shop: Shop, actor: Actor, rule: BonusRule) -> None:
    """Delete a bonus rule. Orders it already applied to keep their points and their explanation (entries hold the
    rule's name, not a reference). Audited as "points.bonus_rule_delete"."""
    assert rule.shop_id == shop.pk
    audit_record(
        shop=shop,
        actor=actor,
        action="points.bonus_rule_delete",
        obj=rule,
        changes=_changes(_rule_state(rule), _rule_state(None)),
    )
    BonusRule.objects.filter(shop=shop, pk=rule.pk).delete()


EXAMPLE_AMOUNTS = (Decimal("100.00"), Decimal("99.50"))


def points_examples(*, shop: Shop, program: PointsProgram) -> list[tuple[Decimal, int]]:
    """What an order of each EXAMPLE_AMOUNTS (a member at the base tier, no items, no bonus) earns under
    `program`: the rate and the rounding at a glance."""
    facts = [OrderFacts(amount=amount, paid_at=timezone.now()) for amount in EXAMPLE_AMOUNTS]
    return [
        (f.amount, points_for_order(program=program, bonus_rules=[], facts=f, time_zone=shop.time_zone).points)
        for f in facts
    ]
