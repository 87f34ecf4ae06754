"""The shopper pages' forms: the phone and its one-time code, joining, logging in, the profile with its consents,
and the shipping address of a gift from the points mall."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.errors import InvalidPhoneError
from members.forms import BirthdayFormMixin
from members.models import Gender
from members.services import phone_normalize
from shops.forms import Form
from shops.ids import ascii_digits

TOKEN = re.compile(r"[A-Za-z0-9_-]{8,40}")
GENDER_CHOICES = [
    (Gender.UNKNOWN, pgettext_lazy("gender", "Prefer not to say")),
    (Gender.FEMALE, Gender.FEMALE.label),
    (Gender.MALE, Gender.MALE.label),
]
MONTH_CHOICES = [("", "—"), *((m, str(m)) for m in range(1, 13))]
DAY_CHOICES = [("", "—"), *((d, str(d)) for d in range(1, 32))]
CONSENTS = ("sms", "push", "email")


class PhoneField(forms.CharField):
    """A phone number in any common form, cleaned to E.164 (+86 when no country code is given)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Mobile number"))
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        return {
            **super().widget_attrs(widget),
            "type": "tel",
            "inputmode": "tel",
            "autocomplete": "tel",
            "placeholder": "138 0013 8000",
        }

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        try:
            return phone_normalize(value)
        except InvalidPhoneError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None


class CodeField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", pgettext_lazy("one-time code", "SMS code"))
        kwargs.setdefault("max_length", 6)
        kwargs.setdefault("min_length", 6)
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        return {
            **super().widget_attrs(widget),
            "inputmode": "numeric",
            "autocomplete": "one-time-code",
            "pattern": "[0-9]{6}",
            "placeholder": "······",
        }

    def clean(self, value):
        value = super().clean(value)
        if value and not ascii_digits(value):
            raise forms.ValidationError(_("The code is 6 digits."), code="code_format")
        return value


class ProfileFieldsForm(BirthdayFormMixin, Form):
    """Name, gender, birthday and region, as a shopper gives them on joining and on the profile page."""

    name = forms.CharField(
        label=pgettext_lazy("person", "Your name"),
        max_length=50,
        required=False,
        widget=forms.TextInput({"autocomplete": "name"}),
    )
    gender = forms.ChoiceField(
        label=pgettext_lazy("member", "Gender"),
        choices=GENDER_CHOICES,
        initial=Gender.UNKNOWN,
        widget=forms.RadioSelect,
    )
    birthday_month = forms.TypedChoiceField(
        label=_("Birthday month"), choices=MONTH_CHOICES, coerce=int, empty_value=None, required=False
    )
    birthday_day = forms.TypedChoiceField(
        label=_("Birthday day"), choices=DAY_CHOICES, coerce=int, empty_value=None, required=False
    )
    birth_year = forms.IntegerField(
        label=_("Birth year (optional)"),
        min_value=1900,
        required=False,
        widget=forms.NumberInput({"inputmode": "numeric"}),
    )
    region = forms.CharField(
        label=_("Region"), max_length=64, required=False, widget=forms.TextInput({"placeholder": _("e.g. Shanghai")})
    )

    PROFILE = ("name", "gender", "birthday_month", "birthday_day", "birth_year", "region")
    birthday_incomplete = _("Give the month and the day of your birthday, or neither.")

    def profile(self) -> dict:
        data = self.cleaned_data
        return {
            **{name: data[name] for name in self.PROFILE},
            "name": data["name"].strip(),
            "region": data["region"].strip(),
        }

    consent_channels = CONSENTS

    def consents(self) -> dict[str, bool]:
        return {channel: bool(self.cleaned_data[f"consent_{channel}"]) for channel in self.consent_channels}


def _consent(label):
    return forms.BooleanField(label=label, required=False)


class JoinForm(ProfileFieldsForm):
    """Joining: the phone and its code (no code when this session proved the phone within ten minutes), the
    profile, marketing consents unticked unless the shopper ticks them, and agreement to the privacy notice."""

    phone = PhoneField()
    code = CodeField(required=False)
    consent_sms = _consent(_("Offers by SMS"))
    consent_push = _consent(_("Offers by app notifications"))
    consent_email = _consent(_("Offers by email"))
    agree = forms.BooleanField(
        label=_("I have read and agree to the privacy notice"),
        error_messages={"required": _("Please agree to the privacy notice to join.")},
    )

    field_order = ["phone", "code", *ProfileFieldsForm.PROFILE]

    def __init__(self, *args, verified_phone: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.verified_phone = verified_phone

    def code_needed(self) -> bool:
        """Whether the phone still needs its code (it is not the one this session proved)."""
        return self.cleaned_data.get("phone") != self.verified_phone

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("phone") and self.code_needed() and not cleaned.get("code") and "code" not in self.errors:
            self.add_error("code", _("Enter the 6-digit code we sent to this number."))
        return cleaned


class LoginForm(Form):
    phone = PhoneField()
    code = CodeField()


class ProfileForm(ProfileFieldsForm):
    consent_sms = _consent(_("SMS"))
    consent_push = _consent(_("App notifications"))
    consent_email = _consent(_("Email"))
    # Not marketing: order updates and the like, on unless the member turns them off (SPEC 13, order care).
    consent_service = _consent(_("Order updates and service messages"))
    consent_channels = (*CONSENTS, "service")

    @classmethod
    def initial_for(cls, member) -> dict:
        return {
            **{name: getattr(member, name) for name in cls.PROFILE},
            **{f"consent_{channel}": getattr(member, f"consent_{channel}") for channel in cls.consent_channels},
        }


class ShippingForm(Form):
    """Where a gift from the points mall goes (coupons.mall checks the address is there and not too long)."""

    recipient_name = forms.CharField(label=_("Recipient"), max_length=50, required=False)
    recipient_phone = forms.CharField(
        label=_("Recipient's phone"), max_length=20, required=False, widget=forms.TextInput({"type": "tel"})
    )
    # Not required here: coupons.mall asks for it in the shopper's words.
    address = forms.CharField(
        label=_("Shipping address"), max_length=200, required=False, widget=forms.Textarea({"rows": 2})
    )


def token_valid(token: str) -> bool:
    """A form token (portal.views: one per rendered form, so a double submission carries the same one)."""
    return bool(TOKEN.fullmatch(token or ""))
