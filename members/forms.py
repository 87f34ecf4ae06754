"""Dashboard forms for members. One filter form speaks the members.filters definition, so the member list, rule
tags and segments offer the same conditions with the same meaning."""

import datetime
import re
from decimal import Decimal

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from shops.extensions import TIER_LOOKUP, implementation
from shops.forms import Form
from shops.models import Shop

from .models import MARKETING_CHANNELS, ConsentChannel, Gender, MemberStatus, TagKind
from .tags import tag_list

SORT_CHOICES = [
    ("-joined_at", _("Joined, newest first")),
    ("joined_at", _("Joined, oldest first")),
    ("-last_order_at", _("Last order, newest first")),
    ("last_order_at", _("Last order, oldest first")),
    ("-lifetime_spend", _("Spend, highest first")),
    ("-spend_12m", _("Spend in 12 months, highest first")),
    ("-order_count", _("Orders, most first")),
    ("name", _("Name, A to Z")),
]
MONTH_CHOICES = [(m, str(m)) for m in range(1, 13)]
STATUS_CHOICES = [(MemberStatus.ACTIVE, MemberStatus.ACTIVE.label), (MemberStatus.FROZEN, MemberStatus.FROZEN.label)]
_LIST_SEPARATORS = re.compile(r"[,，、;；\n]+")

# The filter form's fields, grouped as the page shows them. Each name is a members.filters definition key.
FILTER_GROUPS = [
    (_("Tier and tags"), ["tiers", "tags_any", "tags_all", "tags_none"]),
    (
        _("Spend and orders"),
        ["spend_min", "spend_max", "spend_12m_min", "spend_12m_max", "orders_min", "orders_max", "orders_12m_min"],
    ),
    (
        _("Recency"),
        ["last_order_within_days", "last_order_before_days", "never_ordered", "joined_after", "joined_before"],
    ),
    (_("Profile"), ["birthday_month", "genders", "age_min", "age_max", "regions", "join_channels"]),
    (_("Consent and status"), ["consent", "statuses"]),
]
FILTER_FIELDS = [name for _label, names in FILTER_GROUPS for name in names]
LIST_FIELDS = ("tiers", "tags_any", "tags_all", "tags_none", "birthday_month", "genders", "consent", "statuses")
TEXT_LIST_FIELDS = ("regions", "join_channels")


def _money(label):
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput({"step": "0.01"}),
    )


def _count(label, max_value=1_000_000):
    return forms.IntegerField(label=label, required=False, min_value=0, max_value=max_value)


def _checkboxes(label, choices=(), coerce=str):
    return forms.TypedMultipleChoiceField(
        label=label, required=False, choices=choices, coerce=coerce, widget=forms.CheckboxSelectMultiple
    )


class MemberFilterForm(Form):
    """The conditions of a member filter. `definition()` gives the members.filters definition of a valid form;
    `data_for(definition)` turns a definition back into form data (to bind, or to put in a link)."""

    tiers = _checkboxes(_("Holds one of these tiers"), coerce=int)
    tags_any = _checkboxes(_("Has any of these tags"), coerce=int)
    tags_all = _checkboxes(_("Has all of these tags"), coerce=int)
    tags_none = _checkboxes(_("Has none of these tags"), coerce=int)
    spend_min = _money(_("Spend from"))
    spend_max = _money(_("Spend up to"))
    spend_12m_min = _money(_("12-month spend from"))
    spend_12m_max = _money(_("12-month spend up to"))
    orders_min = _count(_("Orders from"))
    orders_max = _count(_("Orders up to"))
    orders_12m_min = _count(_("Orders in 12 months, at least"))
    last_order_within_days = _count(_("Bought within the last N days"), 36_500)
    last_order_before_days = _count(_("Not bought for N days"), 36_500)
    never_ordered = forms.BooleanField(label=_("Never ordered"), required=False)
    joined_after = forms.DateField(
        label=_("Joined on or after"), required=False, widget=forms.DateInput({"type": "date"})
    )
    joined_before = forms.DateField(label=_("Joined before"), required=False, widget=forms.DateInput({"type": "date"}))
    birthday_month = _checkboxes(_("Birthday month"), MONTH_CHOICES, coerce=int)
    genders = _checkboxes(pgettext_lazy("member filter", "Gender"), Gender.choices)
    age_min = _count(_("Age from"), 150)
    age_max = _count(_("Age up to"), 150)
    regions = forms.CharField(
        label=_("Regions"),
        required=False,
        max_length=500,
        help_text=_("Separate with commas; 广东 matches 广东省 深圳市."),
    )
    join_channels = forms.CharField(
        label=_("Join channels"), required=False, max_length=500, help_text=_("Separate with commas.")
    )
    consent = _checkboxes(_("Allows marketing by"), [c for c in ConsentChannel.choices if c[0] in MARKETING_CHANNELS])
    statuses = _checkboxes(_("Status"), STATUS_CHOICES)

    RANGES = (
        ("spend_min", "spend_max"),
        ("spend_12m_min", "spend_12m_max"),
        ("orders_min", "orders_max"),
        ("age_min", "age_max"),
    )

    def __init__(self, *args, shop: Shop, **kwargs):
        super().__init__(*args, **kwargs)
        tiers = implementation(TIER_LOOKUP).tiers_of_shop(shop=shop)
        self.fields["tiers"].choices = [(tier.pk, tier.name) for tier in tiers]
        tags = [(tag.pk, tag.name) for tag in tag_list(shop=shop)]
        for name in ("tags_any", "tags_all", "tags_none"):
            if tags:
                self.fields[name].choices = tags
            else:
                del self.fields[name]  # no tags yet: no empty "Tags" group either

    def clean(self):
        cleaned = super().clean()
        for low, high in self.RANGES:
            if cleaned.get(low) is not None and cleaned.get(high) is not None and cleaned[low] > cleaned[high]:
                self.add_error(high, _("Must not be less than the lower bound."))
        return cleaned

    def definition(self) -> dict:
        """The members.filters definition (JSON-able) of the conditions filled in."""
        definition = {}
        for name in self.definition_fields():
            value = self.cleaned_data.get(name)
            if name in TEXT_LIST_FIELDS:
                value = [part.strip() for part in _LIST_SEPARATORS.split(value or "") if part.strip()]
            if value is None or value is False or value in ("", []):  # 0 is a real bound
                continue
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, datetime.date):
                value = value.isoformat()
            elif isinstance(value, str):
                value = value.strip()
            definition[name] = value
        return definition

    def definition_fields(self) -> list[str]:
        return FILTER_FIELDS

    @classmethod
    def data_for(cls, definition: dict) -> QueryDict:
        """Form data for a definition: the inverse of `definition()`, also usable as a link's query string."""
        data = QueryDict(mutable=True)
        for name, value in definition.items():
            if name in TEXT_LIST_FIELDS:
                data[name] = ", ".join(str(v) for v in value)
            elif isinstance(value, list | tuple):
                data.setlist(name, [str(v) for v in value])
            elif value is True:
                data[name] = "on"
            else:
                data[name] = str(value)
        return data

    def groups(self):
        """(label, [bound field, ...]) in page order, for the template."""
        return [
            (label, [self[name] for name in names if name in self.fields])
            for label, names in FILTER_GROUPS
            if any(name in self.fields for name in names)
        ]

    def active_count(self) -> int:
        return len(self.definition()) if self.is_bound and self.is_valid() else 0


class MemberSearchForm(MemberFilterForm):
    """The member list's search and filters. The search text may be a phone: the view keeps it out of URLs."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=64,
        widget=forms.TextInput(
            {"type": "search", "autocomplete": "off", "placeholder": _("Phone, name or platform buyer id")}
        ),
    )
    field_order = ["q"]

    def definition_fields(self) -> list[str]:
        return ["q", *FILTER_FIELDS]

    def active_count(self) -> int:
        return len([k for k in self.definition() if k != "q"]) if self.is_bound and self.is_valid() else 0


class RuleTagForm(MemberFilterForm):
    name = forms.CharField(label=_("Tag name"), max_length=50)
    field_order = ["name"]


class SegmentForm(MemberFilterForm):
    name = forms.CharField(label=_("Segment name"), max_length=100)
    field_order = ["name"]


class TagCreateForm(Form):
    name = forms.CharField(label=_("Tag name"), max_length=50)


def _manual_tag_choices(shop: Shop):
    return [(tag.pk, tag.name) for tag in tag_list(shop=shop).filter(kind=TagKind.MANUAL)]


class MemberTagForm(Form):
    tag = forms.TypedChoiceField(label=_("Tag"), coerce=int)

    def __init__(self, *args, shop: Shop, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag"].choices = _manual_tag_choices(shop)


class BulkTagForm(MemberTagForm):
    """Tag or untag every member of the current list; `filter` is the list's query string (token or conditions)."""

    action = forms.ChoiceField(choices=[("add", _("Add the tag")), ("remove", _("Remove the tag"))])
    filter = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)


class BirthdayFormMixin:
    """The checks of a form with birthday_month, birthday_day and birth_year fields (staff's member editor, the
    shopper's join and profile forms): a whole day that exists, and a year only with it, never in the future."""

    birthday_incomplete = _("Give the month and the day of the birthday, or neither.")

    def clean_birth_year(self):
        year = self.cleaned_data.get("birth_year")
        if year is not None and year > datetime.date.today().year:
            raise forms.ValidationError(_("A birth year cannot be in the future."))
        return year

    def clean(self):
        cleaned = super().clean()
        month, day, year = cleaned.get("birthday_month"), cleaned.get("birthday_day"), cleaned.get("birth_year")
        if (month is None) != (day is None):
            self.add_error("birthday_day", self.birthday_incomplete)
        elif month is not None:
            try:
                datetime.date(year or 2000, month, day)  # 2000 is a leap year: 29 February is a birthday
            except ValueError:
                self.add_error("birthday_day", _("This day does not exist in that month."))
        if year is not None and month is None and "birthday_day" not in self.errors:
            self.add_error("birthday_month", _("Give the month and the day when you give a birth year."))
        return cleaned


class MemberEditForm(BirthdayFormMixin, Form):
    """The profile fields a member's staff may change, and their marketing consents (recorded by member_update)."""

    name = forms.CharField(label=_("Name"), max_length=50, required=False)
    gender = forms.ChoiceField(label=pgettext_lazy("member", "Gender"), choices=Gender.choices)
    birthday_month = forms.TypedChoiceField(
        label=_("Birthday month"), choices=[("", "—"), *MONTH_CHOICES], coerce=int, empty_value=None, required=False
    )
    birthday_day = forms.IntegerField(label=_("Birthday day"), min_value=1, max_value=31, required=False)
    birth_year = forms.IntegerField(label=_("Birth year"), min_value=1900, required=False)
    region = forms.CharField(label=_("Region"), max_length=64, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    external_id = forms.CharField(label=_("Platform buyer id"), max_length=64, required=False)
    wechat_openid = forms.CharField(label=_("WeChat openid"), max_length=64, required=False)
    consent_sms = forms.BooleanField(label=_("Allows SMS marketing"), required=False)
    consent_push = forms.BooleanField(label=_("Allows push marketing"), required=False)
    consent_email = forms.BooleanField(label=_("Allows email marketing"), required=False)

    PROFILE = ("name", "gender", "birthday_month", "birthday_day", "birth_year", "region", "email")
    IDENTITIES = ("external_id", "wechat_openid")

    def changes(self) -> dict:
        """Keyword arguments for members.services.member_update."""
        data = self.cleaned_data
        changes = {name: data[name] for name in (*self.PROFILE, *self.IDENTITIES)}
        for name in ("name", "region", "email", "external_id", "wechat_openid"):
            changes[name] = changes[name].strip()
        # Marketing consents only: service messages are the member's own choice (member centre, API).
        changes["consents"] = {channel: data[f"consent_{channel}"] for channel in MARKETING_CHANNELS}
        return changes

    @classmethod
    def initial_for(cls, member) -> dict:
        fields = (*cls.PROFILE, *cls.IDENTITIES, "consent_sms", "consent_push", "consent_email")
        return {name: getattr(member, name) for name in fields}
