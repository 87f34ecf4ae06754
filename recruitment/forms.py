"""Dashboard forms of recruitment: a channel's editor, the referral rules and the leaderboard's period. They parse
what staff type; recruitment.channels and recruitment.referrals check the rules and say what is wrong. Choices of
coupon templates and tags come from the shop's selectors, so another shop's id is never a valid choice."""

import datetime

from django import forms
from django.core.validators import MaxValueValidator
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from coupons.forms.templates import ShopDateTimeField
from coupons.models import TemplateStatus
from coupons.selectors import template_list
from members.models import MAX_POINTS, TagKind
from members.tags import tag_list
from shops.forms import Form, ModelForm
from shops.models import Shop
from shops.time import shop_zone

from .channels import ChannelInput
from .models import Channel, ChannelKind, ReferralProgram

# A poster has room for a few short lines (recruitment.render sets longer text smaller).
MAX_BENEFITS = 8
MAX_BENEFIT_LENGTH = 60
PUBLIC_KINDS = [(value, label) for value, label in ChannelKind.choices if value != ChannelKind.PURCHASE]


def benefit_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _checkboxes(label, help_text=""):
    return forms.TypedMultipleChoiceField(
        label=label, required=False, coerce=int, widget=forms.CheckboxSelectMultiple, help_text=help_text
    )


def _live_templates(shop: Shop, keep: list[int]):
    """The shop's coupon templates that have not ended, and those in `keep` (chosen before they ended, so the form
    shows them and the service says what is wrong)."""
    return template_list(shop=shop).filter(~Q(status=TemplateStatus.ENDED) | Q(pk__in=keep))


class ChannelForm(Form):
    """A channel's fields (recruitment.channels.ChannelInput). The join-on-purchase channel keeps its kind and has no
    poster: its form has no kind, headline or benefits."""

    name = forms.CharField(label=_("Name"), max_length=60, help_text=_("For you only, e.g. 静安店收银台."))
    kind = forms.ChoiceField(label=_("Kind"), choices=PUBLIC_KINDS)
    headline = forms.CharField(
        label=_("Headline"),
        max_length=40,
        required=False,
        help_text=_("The big line of the poster and the landing page. Empty: “Scan to join”."),
    )
    benefits = forms.CharField(
        label=_("Benefits"),
        required=False,
        widget=forms.Textarea({"rows": 4}),
        help_text=_("One per line, for the poster. Empty: the welcome gift in words."),
    )
    valid_from = ShopDateTimeField(label=_("Open from"), required=False, help_text=_("Empty: at once."))
    valid_until = ShopDateTimeField(label=_("Open until"), required=False, help_text=_("Empty: no end."))
    welcome_points = forms.IntegerField(
        label=_("Welcome points"),
        min_value=0,
        max_value=MAX_POINTS,
        initial=0,
        help_text=_("Given to each shopper who joins through this channel while it is open."),
    )
    welcome_coupon_ids = _checkboxes(_("Welcome coupons"), _("Coupons that have not ended; at most 5."))
    tag_ids = _checkboxes(_("Tags on joining"), _("Manual tags given to each shopper who joins through it."))

    PURCHASE_OMITS = ("kind", "headline", "benefits")

    def __init__(self, *args, shop: Shop, channel: Channel | None = None, keep_coupons: list[int] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel
        zone = shop_zone(shop)
        self.fields["valid_from"].zone = self.fields["valid_until"].zone = zone
        self.fields["welcome_coupon_ids"].choices = [(t.pk, t.name) for t in _live_templates(shop, list(keep_coupons))]
        self.fields["tag_ids"].choices = [(t.pk, t.name) for t in tag_list(shop=shop).filter(kind=TagKind.MANUAL)]
        if self.is_purchase:
            for name in self.PURCHASE_OMITS:
                del self.fields[name]

    @property
    def is_purchase(self) -> bool:
        return self.channel is not None and self.channel.kind == ChannelKind.PURCHASE

    @classmethod
    def initial_for(cls, channel: Channel, *, coupon_ids: list[int], tag_ids: list[int]) -> dict:
        fields = ("name", "kind", "headline", "benefits", "valid_from", "valid_until", "welcome_points")
        return {name: getattr(channel, name) for name in fields} | {
            "welcome_coupon_ids": coupon_ids,
            "tag_ids": tag_ids,
        }

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_benefits(self) -> str:
        lines = benefit_lines(self.cleaned_data["benefits"])
        if len(lines) > MAX_BENEFITS:
            raise forms.ValidationError(_("At most %(max)d lines.") % {"max": MAX_BENEFITS})
        if any(len(line) > MAX_BENEFIT_LENGTH for line in lines):
            raise forms.ValidationError(_("Each line has at most %(max)d characters.") % {"max": MAX_BENEFIT_LENGTH})
        return "\n".join(lines)

    def channel_input(self) -> ChannelInput:
        data = self.cleaned_data
        kept = self.channel if self.is_purchase else None
        return ChannelInput(
            name=data["name"],
            kind=ChannelKind.PURCHASE if kept else data["kind"],
            headline=kept.headline if kept else data["headline"],
            benefits=kept.benefits if kept else data["benefits"],
            valid_from=data["valid_from"],
            valid_until=data["valid_until"],
            welcome_points=data["welcome_points"],
            welcome_coupon_ids=list(data["welcome_coupon_ids"]),
            tag_ids=list(data["tag_ids"]),
        )


COUPON_FIELDS = ("inviter_coupon", "invitee_coupon")


def _program_formfield(field, **kwargs):
    if field.name in COUPON_FIELDS:
        kwargs["queryset"] = None  # the shop's, set in __init__: a scoped model cannot be queried at import
    return field.formfield(**kwargs)


class ReferralProgramForm(ModelForm):
    """The shop's referral rules. The coupons are the shop's templates that have not ended (and the one chosen
    before, if it has ended since)."""

    class Meta:
        model = ReferralProgram
        formfield_callback = _program_formfield
        fields = [
            "enabled",
            "trigger",
            "inviter_points",
            "invitee_points",
            "inviter_coupon",
            "invitee_coupon",
            "inviter_cap",
            "cap_period",
            "ip_daily_limit",
        ]

    def __init__(self, *args, shop: Shop, **kwargs):
        super().__init__(*args, **kwargs)
        program = self.instance
        for name in COUPON_FIELDS:
            chosen = getattr(program, f"{name}_id")
            self.fields[name].queryset = _live_templates(shop, [chosen] if chosen else [])
            self.fields[name].empty_label = _("No coupon")
        for name in ("inviter_points", "invitee_points"):  # as a channel's welcome points
            self.fields[name].validators.append(MaxValueValidator(MAX_POINTS))
            self.fields[name].widget.attrs["max"] = MAX_POINTS


class LeaderboardPeriod:
    WEEK = "7d"
    MONTH = "30d"
    ALL = "all"
    CHOICES = ((WEEK, _("Last 7 days")), (MONTH, _("Last 30 days")), (ALL, _("All time")))
    DAYS = {WEEK: 7, MONTH: 30}


class LeaderboardForm(Form):
    period = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=LeaderboardPeriod.CHOICES,
        initial=LeaderboardPeriod.MONTH,
        widget=forms.Select({"data-autosubmit": ""}),
    )

    def chosen(self) -> str:
        return (self.cleaned_data.get("period") if self.is_valid() else "") or LeaderboardPeriod.MONTH

    def since(self, now: datetime.datetime | None = None) -> datetime.datetime | None:
        days = LeaderboardPeriod.DAYS.get(self.chosen())
        return (now or timezone.now()) - datetime.timedelta(days=days) if days else None
