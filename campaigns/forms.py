"""Dashboard forms of campaigns: the editor (and its audience part, which the live count reads from the query string),
the test send and the messaging settings. They parse what staff type; campaigns.services checks the rules and says
what is wrong. Segments, tags, tiers and coupon templates come from the shop's selectors, so another shop's id is
never a valid choice."""

import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from coupons.forms.templates import ShopDateTimeField
from coupons.selectors import template_list
from members.segments import segment_list
from members.tags import tag_list
from shops.forms import Form
from shops.ids import parse_id
from shops.models import Shop
from shops.time import shop_zone
from tiers.selectors import tiers_of_shop

from .models import Campaign, Channel, QuietHoursPolicy
from .services import CampaignInput


class AudienceKind:
    SEGMENT, TAG, TIER, SAVED = "segment", "tag", "tier", "saved"


class Schedule:
    NOW, AT, ACTIVE_HOUR = "now", "at", "active_hour"
    CHOICES = (
        (NOW, _("Now")),
        (AT, _("At a time")),
        (ACTIVE_HOUR, _("At each member's active hour (within 24 hours)")),
    )


def _optional_id(label):
    return forms.TypedChoiceField(label=label, required=False, coerce=int, empty_value=None)


class AudienceForm(Form):
    """Who and how: the fields the live count needs (campaigns.views.campaigns.CampaignPreviewView)."""

    audience_kind = forms.ChoiceField(label=_("Audience"), widget=forms.RadioSelect)
    segment = _optional_id(_("Segment"))
    tag = _optional_id(_("Tag"))
    tier = _optional_id(_("Tier"))
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.SMS)
    holdout_percent = forms.IntegerField(
        label=_("Holdout share (%)"),
        min_value=0,
        max_value=50,
        initial=10,
        help_text=_("Members held back at random, to measure what the campaign adds."),
    )
    schedule = forms.ChoiceField(
        label=_("When"), choices=Schedule.CHOICES, initial=Schedule.NOW, widget=forms.RadioSelect
    )
    send_at = ShopDateTimeField(label=_("Send at"), required=False)
    quiet_hours = forms.ChoiceField(
        label=_("In quiet hours"), choices=QuietHoursPolicy.choices, initial=QuietHoursPolicy.DEFER
    )

    def __init__(self, *args, shop: Shop, saved_audience: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.shop = shop
        self.saved_audience = saved_audience
        self.fields["send_at"].zone = shop_zone(shop)
        kinds = [
            (AudienceKind.SEGMENT, _("A segment")),
            (AudienceKind.TAG, _("A tag")),
            (AudienceKind.TIER, _("A tier")),
        ]
        if saved_audience is not None:
            kinds.append((AudienceKind.SAVED, _("As saved (a filter set through the API)")))
        self.fields["audience_kind"].choices = kinds
        self.fields["audience_kind"].initial = AudienceKind.SEGMENT
        empty = [("", "—")]
        self.fields["segment"].choices = empty + [(s.pk, s.name) for s in segment_list(shop=shop)]
        self.fields["tag"].choices = empty + [(t.pk, t.name) for t in tag_list(shop=shop)]
        self.fields["tier"].choices = empty + [(t.pk, t.name) for t in tiers_of_shop(shop=shop)]

    def clean(self):
        data = super().clean()
        kind = data.get("audience_kind")
        if kind in (AudienceKind.SEGMENT, AudienceKind.TAG, AudienceKind.TIER) and data.get(kind) is None:
            self.add_error(kind, _("Choose one."))
        if data.get("schedule") == Schedule.AT and not data.get("send_at"):
            self.add_error("send_at", _("Say when to send."))
        return data

    def audience(self) -> dict:
        data = self.cleaned_data
        kind = data["audience_kind"]
        if kind == AudienceKind.SEGMENT:
            return {"segment_id": data["segment"]}
        if kind == AudienceKind.TAG:
            return {"tag": data["tag"]}
        if kind == AudienceKind.TIER:
            return {"filter": {"tiers": [data["tier"]]}}
        return self.saved_audience

    def timing(self) -> dict:
        schedule = self.cleaned_data["schedule"]
        return {
            "send_at": self.cleaned_data["send_at"] if schedule == Schedule.AT else None,
            "send_at_active_hour": schedule == Schedule.ACTIVE_HOUR,
        }

    def campaign(self, pk: int | None = None) -> Campaign:
        """An unsaved campaign with these fields (the live count classifies members as the snapshot would)."""
        data = self.cleaned_data
        return Campaign(
            pk=pk,
            shop=self.shop,
            channel=data["channel"],
            audience=self.audience(),
            holdout_percent=data["holdout_percent"],
            quiet_hours=data["quiet_hours"],
            **self.timing(),
        )


class CampaignForm(AudienceForm):
    name = forms.CharField(label=_("Name"), max_length=100)
    title = forms.CharField(
        label=_("Push title"), max_length=60, required=False, help_text=_("Push notifications and the inbox.")
    )
    text = forms.CharField(label=_("Text"), max_length=1000, widget=forms.Textarea(attrs={"rows": 5}))
    link_url = forms.CharField(
        label=_("Link"),
        max_length=500,
        required=False,
        help_text=_("Where {link} leads: a page of the shop, or an https:// address."),
    )
    coupon_template = _optional_id(_("Coupon"))
    attribution_days = forms.IntegerField(
        label=_("Attribution window (days)"),
        min_value=1,
        max_value=90,
        initial=7,
        help_text=_("Orders within these days of the start count for the campaign."),
    )

    field_order = [
        "name", "audience_kind", "segment", "tag", "tier", "channel", "title", "text", "link_url", "coupon_template",
        "schedule", "send_at", "quiet_hours", "holdout_percent", "attribution_days",
    ]  # fmt: skip

    def __init__(self, *args, shop: Shop, **kwargs):
        super().__init__(*args, shop=shop, **kwargs)
        self.fields["coupon_template"].choices = [("", _("No coupon"))] + [
            (t.pk, t.name) for t in template_list(shop=shop)
        ]

    @staticmethod
    def initial_for(campaign: Campaign) -> dict:
        initial = {
            name: getattr(campaign, name)
            for name in ("name", "channel", "title", "text", "link_url", "holdout_percent", "quiet_hours")
        }
        initial.update(
            attribution_days=campaign.attribution_days,
            coupon_template=campaign.coupon_template_id,
            send_at=campaign.send_at,
            schedule=Schedule.ACTIVE_HOUR
            if campaign.send_at_active_hour
            else (Schedule.AT if campaign.send_at else Schedule.NOW),
        )
        initial.update(audience_initial(campaign.audience))
        return initial

    def campaign_input(self) -> CampaignInput:
        data = self.cleaned_data
        return CampaignInput(
            name=data["name"],
            channel=data["channel"],
            audience=self.audience(),
            text=data["text"],
            title=data["title"],
            link_url=data["link_url"],
            coupon_template_id=data["coupon_template"],
            holdout_percent=data["holdout_percent"],
            quiet_hours=data["quiet_hours"],
            attribution_days=data["attribution_days"],
            **self.timing(),
        )


def audience_initial(audience: dict) -> dict:
    """The audience fields showing a saved audience; one the editor cannot show is kept as saved."""
    if isinstance(audience, dict) and len(audience) == 1:
        ((kind, value),) = audience.items()
        if kind == "segment_id":
            return {"audience_kind": AudienceKind.SEGMENT, "segment": value}
        if kind == "tag" and (tag_id := parse_id(str(value))) is not None:
            return {"audience_kind": AudienceKind.TAG, "tag": tag_id}
        if kind == "filter" and isinstance(value, dict) and list(value) == ["tiers"] and len(value["tiers"]) == 1:
            return {"audience_kind": AudienceKind.TIER, "tier": value["tiers"][0]}
    return {"audience_kind": AudienceKind.SAVED}


def needs_saved_choice(audience: dict) -> bool:
    return audience_initial(audience)["audience_kind"] == AudienceKind.SAVED


class TestSendForm(Form):
    phone = forms.CharField(
        label=_("Staff phone"), max_length=20, help_text=_("Gets the text with sample values, marked as a test.")
    )


HOURS = [(h, f"{h:02d}:00") for h in range(24)]


class MessagingSettingsForm(Form):
    signature = forms.CharField(
        label=_("SMS signature"),
        max_length=12,
        required=False,
        help_text=_("Shown as 【signature】 before every SMS; the shop's name when empty."),
    )
    # 24-hour text ("21:00"), not <input type=time>, which shows "9:00 PM" in a browser set to English.
    quiet_start = forms.TimeField(
        label=_("Quiet hours start"), widget=forms.TimeInput(format="%H:%M", attrs={"placeholder": "21:00"})
    )
    quiet_end = forms.TimeField(
        label=_("Quiet hours end"), widget=forms.TimeInput(format="%H:%M", attrs={"placeholder": "08:00"})
    )
    daily_cap = forms.IntegerField(label=_("Marketing messages a day, at most"), min_value=0, max_value=100)
    weekly_cap = forms.IntegerField(label=_("Marketing messages in 7 days, at most"), min_value=0, max_value=100)
    fallback_hour = forms.TypedChoiceField(
        label=_("Fallback hour"),
        choices=HOURS,
        coerce=int,
        help_text=_("For members without orders, when sending at each member's active hour."),
    )

    @staticmethod
    def initial_for(settings) -> dict:
        return {
            "signature": settings.signature,
            "quiet_start": settings.quiet_start.strftime("%H:%M"),
            "quiet_end": settings.quiet_end.strftime("%H:%M"),
            "daily_cap": settings.daily_cap,
            "weekly_cap": settings.weekly_cap,
            "fallback_hour": settings.fallback_hour,
        }

    def fields_data(self) -> dict[str, str | int | datetime.time]:
        return dict(self.cleaned_data)
