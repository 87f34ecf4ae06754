import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.validators import FileExtensionValidator
from django.utils.translation import gettext_lazy as _

from .models import colour_validator, slug_validator
from .roles import Role
from .text import multiline_text, single_line_text

CURRENCIES = [
    ("CNY", _("CNY - Chinese yuan")),
    ("HKD", _("HKD - Hong Kong dollar")),
    ("MOP", _("MOP - Macanese pataca")),
    ("TWD", _("TWD - New Taiwan dollar")),
    ("SGD", _("SGD - Singapore dollar")),
    ("JPY", _("JPY - Japanese yen")),
    ("KRW", _("KRW - South Korean won")),
    ("USD", _("USD - US dollar")),
    ("EUR", _("EUR - Euro")),
    ("GBP", _("GBP - Pound sterling")),
]
MAX_LOGO_BYTES = 2 * 1024 * 1024


class PlainTextFormMixin:
    """Every text field of the form refuses control and invisible format characters (shops.text), without each
    field saying so: a field shown as a Textarea is multi-line and keeps newlines and tabs. Passwords are left
    alone: never shown, and their characters are their owner's choice. Every form of the apps has this mixin
    (tests/test_architecture.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():  # the form's own copies: the class's fields stay as declared
            if isinstance(field, forms.CharField) and not isinstance(field.widget, forms.PasswordInput):
                multiline = isinstance(field.widget, forms.Textarea)
                field.validators.append(multiline_text if multiline else single_line_text)


class Form(PlainTextFormMixin, forms.Form):
    pass


class ModelForm(PlainTextFormMixin, forms.ModelForm):
    pass


class SignUpForm(Form):
    name = forms.CharField(label=_("Your name"), max_length=100)
    email = forms.EmailField(label=_("Work email"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
    shop_name = forms.CharField(label=_("Shop name"), max_length=100)
    shop_slug = forms.CharField(
        label=_("Shop link name"),
        max_length=40,
        validators=[slug_validator],
        help_text=_(
            "Appears in your dashboard and shopper links, e.g. my-shop: 3-40 lowercase letters, digits, hyphens."
        ),
    )

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password"):
            try:
                password_validation.validate_password(cleaned["password"])
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class ShopCreateForm(Form):
    shop_name = SignUpForm.base_fields["shop_name"]
    shop_slug = SignUpForm.base_fields["shop_slug"]


class ShopSettingsForm(Form):
    name = forms.CharField(label=_("Shop name"), max_length=100)
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCIES)
    time_zone = forms.ChoiceField(label=_("Time zone"))
    locale = forms.ChoiceField(label=_("Language for shoppers"), choices=settings.LANGUAGES)
    colour = forms.CharField(
        label=_("Brand colour"),
        max_length=7,
        validators=[colour_validator],
        widget=forms.TextInput({"type": "color"}),
    )
    logo = forms.ImageField(
        label=_("Logo"),
        required=False,
        validators=[FileExtensionValidator(["png", "jpg", "jpeg", "webp"])],
        help_text=_("PNG, JPEG or WebP, at most 2 MB."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(tz, tz) for tz in sorted(zoneinfo.available_timezones())]

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if logo and logo.size > MAX_LOGO_BYTES:
            raise forms.ValidationError(_("The logo is larger than 2 MB."))
        return logo

    def changed_settings(self) -> dict:
        """Cleaned values to save; an empty logo field keeps the current logo."""
        values = dict(self.cleaned_data)
        if not values.get("logo"):
            values.pop("logo", None)
        return values


class InviteForm(Form):
    email = forms.EmailField(label=_("Email"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.CLERK)


class RoleForm(Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class ApiKeyForm(Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("What uses this key, e.g. 'POS' or 'Online store'.")
    )


class AcceptInvitationForm(Form):
    """For an invited person who has no account yet: the account is created as the invitation is accepted."""

    name = forms.CharField(label=_("Your name"), max_length=100)
    password = forms.CharField(label=_("Choose a password"), widget=forms.PasswordInput, strip=False)

    def clean_password(self):
        password_validation.validate_password(self.cleaned_data["password"])
        return self.cleaned_data["password"]
