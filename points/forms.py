"""Dashboard forms of the points program: they parse what staff type; points.program and points.services check
the rules and say what is wrong."""

import re
import uuid

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from members.models import MAX_POINTS
from shops.forms import Form

from .models import BonusKind, EntryKind, ExpiryMode, ExpiryRounding, PointsProgram, Rounding
from .program import MAX_MULTIPLIER, MAX_PENDING_DAYS, MAX_REMINDER_DAYS, PROGRAM_FIELDS

CATEGORY_SEPARATORS = re.compile(r"[,，、;；\n]")
DATE = forms.DateInput({"type": "date"})


class PointsProgramForm(Form):
    points_per_unit = forms.DecimalField(
        label=_("Points per currency unit"),
        min_value=0,
        max_value=1000,
        max_digits=8,
        decimal_places=2,
        help_text=_("1 means one point for each yuan paid."),
    )
    rounding = forms.ChoiceField(
        label=_("Rounding"),
        choices=Rounding.choices,
        help_text=_("Applied once, to an order's total after bonuses and the tier multiplier."),
    )
    per_order_cap = forms.IntegerField(
        label=_("Cap per order"),
        min_value=1,
        max_value=MAX_POINTS,
        required=False,
        help_text=_("The most points one order can earn. Empty: no cap."),
    )
    excluded_categories = forms.CharField(
        label=_("Excluded categories"),
        required=False,
        max_length=2000,
        help_text=_("Items of these categories earn no points, separated by commas, e.g. 运费, 礼品卡."),
    )
    pending_days = forms.IntegerField(
        label=_("Pending days"),
        min_value=0,
        max_value=MAX_PENDING_DAYS,
        help_text=_("Points become available this many days after the order completes (0: at once)."),
    )
    expiry_mode = forms.ChoiceField(label=_("Points expire"), choices=ExpiryMode.choices)
    expiry_period = forms.IntegerField(
        label=_("Expiry period"),
        min_value=1,
        max_value=3660,
        help_text=_("Days or months after earning, for the modes that count them."),
    )
    expiry_rounding = forms.ChoiceField(
        label=_("Expiry date"),
        choices=ExpiryRounding.choices,
        help_text=_("For periods: expire exactly then, or at the end of that month or year."),
    )
    reminder_days = forms.IntegerField(
        label=_("Remind days before expiry"),
        min_value=0,
        max_value=MAX_REMINDER_DAYS,
    )
    cash_enabled = forms.BooleanField(label=_("Points pay part of an order at checkout"), required=False)
    points_per_cash_unit = forms.IntegerField(
        label=_("Points per currency unit of cash"),
        min_value=1,
        max_value=MAX_POINTS,
        help_text=_("100 means 100 points pay 1 yuan."),
    )
    cash_min_points = forms.IntegerField(label=_("Minimum points per use"), min_value=0, max_value=MAX_POINTS)
    cash_max_share = forms.IntegerField(label=_("Maximum share of the order (%)"), min_value=1, max_value=100)
    profile_completion_points = forms.IntegerField(
        label=_("Points for a completed profile"),
        min_value=0,
        max_value=MAX_POINTS,
    )
    profile_completion_growth = forms.IntegerField(
        label=_("Growth value for a completed profile"),
        min_value=0,
        max_value=MAX_POINTS,
        help_text=_("Paid once per member, when name, gender, birthday and region are first all filled in."),
    )
    growth_per_unit = forms.DecimalField(
        label=_("Growth value per currency unit"),
        min_value=0,
        max_value=1000,
        max_digits=8,
        decimal_places=2,
        help_text=_("Growth value drives tiers; it is earned by spend, without bonuses, and never spent."),
    )

    GROUPS = (
        (_("Earning"), ("points_per_unit", "rounding", "per_order_cap", "excluded_categories")),
        (_("Pending and expiry"), ("pending_days", "expiry_mode", "expiry_period", "expiry_rounding", "reminder_days")),
        (_("Points as cash"), ("cash_enabled", "points_per_cash_unit", "cash_min_points", "cash_max_share")),
        (_("Rewards and growth value"), ("profile_completion_points", "profile_completion_growth", "growth_per_unit")),
    )

    def groups(self):
        return [(title, [self[name] for name in names]) for title, names in self.GROUPS]

    def clean_excluded_categories(self) -> list[str]:
        text = self.cleaned_data["excluded_categories"]
        return [part.strip() for part in CATEGORY_SEPARATORS.split(text) if part.strip()]

    @classmethod
    def initial_for(cls, program: PointsProgram) -> dict:
        initial = {name: getattr(program, name) for name in PROGRAM_FIELDS}
        initial["excluded_categories"] = ", ".join(program.excluded_categories)
        return initial


class BonusRuleForm(Form):
    name = forms.CharField(label=_("Name"), max_length=60, help_text=_("Shown on the order, e.g. 双十一双倍积分."))
    kind = forms.ChoiceField(label=_("Applies to"), choices=BonusKind.choices)
    match = forms.CharField(
        label=_("Category or SKU"),
        max_length=64,
        required=False,
        help_text=_("For rules on a category or a SKU: its exact name."),
    )
    starts_on = forms.DateField(label=_("From"), required=False, widget=DATE)
    ends_on = forms.DateField(
        label=_("Until"),
        required=False,
        widget=DATE,
        help_text=_("Days in the shop's time zone, both included. Needed for a date range; optional otherwise."),
    )
    multiplier = forms.DecimalField(
        label=_("Multiplier"),
        min_value=1,
        max_value=MAX_MULTIPLIER,
        max_digits=4,
        decimal_places=2,
        initial=2,
        help_text=_("Of the base points of what the rule matches: 2 means double points."),
    )
    extra_points = forms.IntegerField(
        label=_("Extra points per order"),
        min_value=0,
        max_value=MAX_POINTS,
        initial=0,
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    FIELDS = ("name", "kind", "match", "starts_on", "ends_on", "multiplier", "extra_points", "active")

    @classmethod
    def initial_for(cls, rule) -> dict:
        return {name: getattr(rule, name) for name in cls.FIELDS}


def new_adjustment_key() -> str:
    """A key for one adjustment form. "#" never appears in API clients' keys, so the two cannot collide."""
    return f"dashboard#{uuid.uuid4().hex}"


class PointsAdjustForm(Form):
    """One staff adjustment. The idempotency key is made when the form is shown, so submitting the same form twice
    (a double click, a resent request) adjusts once."""

    points = forms.IntegerField(
        label=_("Points"),
        min_value=-MAX_POINTS,
        max_value=MAX_POINTS,
        help_text=_("Positive adds points, negative takes them away."),
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=200, help_text=_("Recorded in the ledger and the audit log.")
    )
    idempotency_key = forms.CharField(
        widget=forms.HiddenInput, max_length=100, validators=[RegexValidator(r"^dashboard#[0-9a-f]{32}$")]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", new_adjustment_key())

    def clean_points(self) -> int:
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Give a number of points other than 0."))
        return points

    def clean(self):
        cleaned = super().clean()
        if "idempotency_key" in self.errors:  # a hidden field: its error would not show
            raise forms.ValidationError(_("This form is out of date. Reload the page and try again."))
        return cleaned


class LedgerFilterForm(Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=[("", _("All")), *EntryKind.choices], required=False)
    created_from = forms.DateField(label=_("From"), required=False, widget=DATE)
    created_to = forms.DateField(label=_("Until"), required=False, widget=DATE)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("created_from"), cleaned.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", _("Must not be before the first day."))
        return cleaned
