"""The automation editor (SPEC 13): the trigger's settings, re-entry and holdout, and the steps as rows of a
formset (a row without a kind is left out), each row's fields used by its kind."""

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import Channel
from coupons.models import CouponTemplate
from coupons.selectors import template_list
from shops.forms import Form
from shops.models import Shop

from .models import Automation, Reentry, Step, StepKind, Trigger
from .services import StepInput

MAX_STEPS = 8


class AutomationForm(Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    days = forms.IntegerField(label=_("Number of days"), min_value=0, max_value=365, required=False)
    reentry = forms.ChoiceField(label=_("Re-entry"), choices=Reentry.choices, widget=forms.RadioSelect)
    reentry_days = forms.IntegerField(
        label=_("Period (days)"), min_value=1, max_value=3650, help_text=_("For “once per period”.")
    )
    holdout_percent = forms.IntegerField(
        label=_("Holdout share (%)"),
        min_value=0,
        max_value=50,
        help_text=_("Members held out get nothing; comparing them with the others shows what the automation adds."),
    )
    attribution_days = forms.IntegerField(
        label=_("Attribution window (days)"),
        min_value=1,
        max_value=90,
        help_text=_("Orders within these days of entering count for the automation."),
    )
    compensation_template = forms.TypedChoiceField(
        label=_("Compensation coupon"),
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("Given once per order for a score of 2 or less."),
    )

    DAYS_HELP = {
        Trigger.BIRTHDAY: _("Days before the birthday (0: on the day)."),
        Trigger.POINTS_EXPIRING: _("Days before the points expire."),
        Trigger.COUPONS_EXPIRING: _("Days before the coupon expires."),
        Trigger.WIN_BACK: _("Days without an order."),
        Trigger.REPLENISHMENT: _("Days before the expected re-purchase."),
    }

    def __init__(self, *args, shop: Shop, automation: Automation, **kwargs):
        super().__init__(*args, **kwargs)
        self.automation = automation
        if automation.trigger in self.DAYS_HELP:
            self.fields["days"].label = self.DAYS_HELP[automation.trigger]
            self.fields["days"].required = True
        else:
            del self.fields["days"]
        if automation.trigger == Trigger.SURVEY:
            self.fields["compensation_template"].choices = [("", _("No coupon"))] + [
                (t.pk, t.name) for t in template_list(shop=shop)
            ]
        else:
            del self.fields["compensation_template"]
        self.templates = {t.pk: t for t in template_list(shop=shop)}

    @staticmethod
    def initial_for(automation: Automation) -> dict:
        return {
            name: getattr(automation, name)
            for name in ("name", "days", "reentry", "reentry_days", "holdout_percent", "attribution_days")
        } | {"compensation_template": automation.compensation_template_id}

    def fields_to_save(self, templates: dict[int, CouponTemplate]) -> dict:
        data = dict(self.cleaned_data)
        if "compensation_template" in data:
            data["compensation_template"] = templates.get(data["compensation_template"])
        return data


class StepForm(Form):
    kind = forms.ChoiceField(label=_("Step"), choices=[("", "—"), *StepKind.choices], required=False)
    wait_days = forms.IntegerField(label=_("Wait (days)"), min_value=0, max_value=365, required=False)
    wait_hour = forms.IntegerField(label=_("Until hour"), min_value=0, max_value=23, required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, required=False)
    title = forms.CharField(label=_("Title"), max_length=60, required=False)
    text = forms.CharField(label=_("Text"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    link_url = forms.CharField(label=_("Link"), max_length=500, required=False)
    coupon_template = forms.TypedChoiceField(label=_("Coupon"), coerce=int, empty_value=None, required=False)
    points = forms.IntegerField(label=_("Points"), min_value=0, max_value=1_000_000, required=False)
    tier_birthday_gift = forms.BooleanField(label=_("The tier's birthday gift"), required=False)

    def __init__(self, *args, templates: dict[int, CouponTemplate], **kwargs):
        super().__init__(*args, **kwargs)
        self.templates = templates
        self.fields["coupon_template"].choices = [("", _("No coupon"))] + [(pk, t.name) for pk, t in templates.items()]

    def step(self) -> StepInput | None:
        data = self.cleaned_data
        if not data.get("kind"):
            return None
        return StepInput(
            kind=data["kind"],
            wait_days=data.get("wait_days") or 0,
            wait_hour=data.get("wait_hour"),
            channel=data.get("channel") or Channel.SMS,
            title=data.get("title") or "",
            text=data.get("text") or "",
            link_url=data.get("link_url") or "",
            coupon_template=self.templates.get(data.get("coupon_template")),
            points=data.get("points") or 0,
            tier_birthday_gift=bool(data.get("tier_birthday_gift")),
        )

    @staticmethod
    def initial_for(step: Step) -> dict:
        campaign = step.campaign
        return {
            "kind": step.kind,
            "wait_days": step.wait_days,
            "wait_hour": step.wait_hour,
            "channel": campaign.channel if campaign else Channel.SMS,
            "title": campaign.title if campaign else "",
            "text": campaign.text if campaign else "",
            "link_url": campaign.link_url if campaign else "",
            "coupon_template": step.coupon_template_id,
            "points": step.points,
            "tier_birthday_gift": step.tier_birthday_gift,
        }


StepFormSet = forms.formset_factory(StepForm, extra=0, max_num=MAX_STEPS, absolute_max=MAX_STEPS, validate_max=True)


class SurveyForm(Form):
    score = forms.TypedChoiceField(
        label=_("How satisfied are you with this order?"),
        coerce=int,
        choices=[(n, str(n)) for n in range(1, 6)],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything to tell us? (optional)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
