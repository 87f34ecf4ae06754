"""Dashboard forms of tiers. The ladder editor parses what staff type (numbers, choices) and leaves the rules of a
valid ladder (ranges, unique names, rank 0 without thresholds) to tiers.rules.tier_ladder_validate, whose errors
the view shows at the tier and field they name."""

import datetime
import hashlib
import json

from django import forms
from django.forms import BaseFormSet, formset_factory
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members.models import MAX_POINTS, Member
from shops.forms import Form
from shops.models import Shop
from shops.time import as_local, day_start, local_today

from .models import Combine, Tier, Window
from .rules import EDITABLE_FIELDS, MAX_TIERS, ladder_as_json
from .selectors import tiers_of_shop

DATE = forms.DateInput({"type": "date"})
# Rank 0 is the tier held on joining: it is never reached by qualifying nor lowered, so these mean nothing there.
NOT_FOR_RANK_0 = ("min_spend", "min_orders", "min_growth", "combine", "window", "retention_months")


def _number(step: str) -> forms.NumberInput:
    return forms.NumberInput({"step": step})


class TierForm(Form):
    """One tier of the ladder; its rank is its place in the formset."""

    name = forms.CharField(label=_("Name"), max_length=40)
    min_spend = forms.DecimalField(
        label=_("Minimum spend"),
        required=False,
        max_digits=12,
        decimal_places=2,
        widget=_number("0.01"),
        help_text=_("Empty: not a condition."),
    )
    min_orders = forms.IntegerField(label=_("Minimum orders"), required=False)
    min_growth = forms.IntegerField(label=_("Minimum growth value"), required=False, min_value=0, max_value=MAX_POINTS)
    combine = forms.ChoiceField(label=_("Conditions met"), choices=Combine.choices)
    window = forms.ChoiceField(label=_("Counted over"), choices=Window.choices)
    retention_months = forms.IntegerField(
        label=_("Kept for (months)"), help_text=_("After it is reached, before the tier can be lowered.")
    )
    discount_rate = forms.DecimalField(
        label=_("Price rate"),
        max_digits=4,
        decimal_places=3,
        widget=_number("0.001"),
        help_text=_("0.95 means 5% off (95折)."),
    )
    points_multiplier = forms.DecimalField(
        label=_("Points multiplier"), max_digits=4, decimal_places=2, widget=_number("0.01")
    )
    free_shipping = forms.BooleanField(label=_("Free shipping"), required=False)
    priority_shipping = forms.BooleanField(label=_("Priority shipping"), required=False)
    dedicated_service = forms.BooleanField(label=_("Dedicated service"), required=False)
    description = forms.CharField(label=_("Description"), max_length=200, required=False)

    def __init__(self, *args, rank: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.rank = rank
        if rank is not None:  # the editor's cells have no <label> of their own: name the field and the tier
            where = gettext("Rank %(rank)s") % {"rank": rank}
            for field in self.fields.values():
                field.widget.attrs["aria-label"] = f"{field.label} · {where}"
        # The rank 0 tier keeps what it has for these (its thresholds are always empty): disabled fields take the
        # form's initial values, whatever is posted.
        self.not_applicable = set(NOT_FOR_RANK_0) if rank == 0 else set()
        for name in self.not_applicable:
            self.fields[name].disabled = True

    @staticmethod
    def initial_for(tier: Tier) -> dict:
        return {field: getattr(tier, field) for field in EDITABLE_FIELDS if field != "rank"}


class BaseLadderFormSet(BaseFormSet):
    def get_form_kwargs(self, index):
        # Every row is a tier, also one that matches its initial values (which formsets otherwise skip as blank).
        return {**super().get_form_kwargs(index), "rank": index, "empty_permitted": False}

    def rows(self) -> list[tuple]:
        """The editor's table, one row per field and one cell per tier: (label, help text, [(bound field, used)]).
        A tier's fields run down a column, so that the ladder reads from left (rank 0) to right (the top)."""
        return [
            (field.label, field.help_text, [(form[name], name not in form.not_applicable) for form in self.forms])
            for name, field in TierForm.base_fields.items()
        ]

    def ladder(self) -> list[dict]:
        """The tiers as tier_ladder_validate takes them (call after is_valid())."""
        return [{"rank": index, **form.cleaned_data} for index, form in enumerate(self.forms)]

    def raw_rows(self) -> list[dict]:
        """The values as typed, valid or not: the editor's rows when one is added or removed without checking."""
        return [{name: form[name].value() for name in form.fields} for form in self.forms]

    def readonly(self) -> "BaseLadderFormSet":
        for form in self.forms:
            for field in form.fields.values():
                field.disabled = True
        return self


LadderFormSet = formset_factory(
    TierForm,
    formset=BaseLadderFormSet,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=MAX_TIERS,
    validate_max=True,
    absolute_max=MAX_TIERS,
)


def ladder_formset(*, tiers: list[Tier], data=None, rows: list[dict] | None = None) -> BaseLadderFormSet:
    """The editor: bound to `data` (a POST, with the shop's `tiers` as the initial values that the rank 0 tier's
    disabled fields keep), or showing `rows` (an edited ladder, from raw_rows), or showing the shop's `tiers`."""
    initial = [TierForm.initial_for(tier) for tier in tiers]
    if data is not None:
        return LadderFormSet(data, initial=initial)
    return LadderFormSet(initial=initial if rows is None else rows)


class LadderApplyForm(Form):
    """When the edited ladder applies, and the digest of the ladder last previewed (so that Apply applies what the
    preview showed: a ladder edited after its preview is previewed again first)."""

    effective_on = forms.DateField(
        label=_("Applies from"),
        required=False,
        widget=DATE,
        help_text=_("Empty or today: at once. A later day: the change waits for that day (in the shop's time zone)."),
    )
    previewed = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, shop: Shop, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = local_today(shop)

    def clean_effective_on(self) -> datetime.date | None:
        day = self.cleaned_data["effective_on"]
        if day is not None and day < self.today:
            raise forms.ValidationError(_("Choose today or a later day."))
        return day

    def applies_now(self) -> bool:
        day = self.cleaned_data["effective_on"]
        return day is None or day <= self.today


def ladder_digest(ladder: list[dict], effective_on: datetime.date | None) -> str:
    """A fingerprint of a ladder with its date, as the preview showed them."""
    text = json.dumps([ladder_as_json(ladder), effective_on and effective_on.isoformat()], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class TierAssignForm(Form):
    """Put a member on a tier by hand. The tier is chosen among the shop's ladder (resolved through the selector,
    so another shop's tier id is not a choice); `until` is a last day, in the shop's time zone."""

    tier = forms.TypedChoiceField(label=_("Tier"), coerce=int)
    until = forms.DateField(
        label=_("Until"),
        required=False,
        widget=DATE,
        help_text=_("The last day of the assignment; after it the evaluation may lower the tier. Empty: no end."),
    )
    note = forms.CharField(
        label=_("Note"), max_length=200, required=False, help_text=_("Recorded with the change and in the audit log.")
    )

    def __init__(self, *args, shop: Shop, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.shop = shop
        self.tiers = {tier.pk: tier for tier in tiers_of_shop(shop=shop)}
        self.fields["tier"].choices = [(pk, tier.name) for pk, tier in self.tiers.items()]
        if not self.is_bound:
            base = next(iter(self.tiers), None)
            self.initial.setdefault("tier", member.tier_id or base)

    def clean_tier(self) -> Tier:
        return self.tiers[self.cleaned_data["tier"]]

    def clean_until(self) -> datetime.datetime | None:
        """The end of the last day: the start of the next one in the shop's time zone (read on its clock, as the
        audit log shows it)."""
        day = self.cleaned_data["until"]
        return None if day is None else as_local(self.shop, day_start(self.shop, day + datetime.timedelta(days=1)))
