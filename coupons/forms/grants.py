"""Dashboard forms of grants and the clerk's lookup: a template granted to a segment or to one member, and a code
looked up, validated against an order and redeemed. Templates, segments and members are resolved through the
shop's selectors, so another shop's id is never a valid choice.

The grant forms carry a one-time idempotency key made when the form is shown, so submitting the same form twice (a
double click, a resent request) grants once."""

import re
import uuid
from decimal import Decimal

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from members.filters import InvalidFilter
from members.models import Member, MemberStatus
from members.phones import InvalidPhone, normalize_phone
from members.segments import segment_count, segment_list
from members.selectors import member_search
from shops.forms import Form
from shops.ids import parse_int
from shops.models import Shop

from ..codes import code_normalize
from ..models import Source
from ..rules import CartItem
from ..selectors import templates_claimable

KEY_FORMAT = r"^dashboard#[0-9a-f]{32}$"
MAX_AMOUNT = Decimal("9999999999.99")
MAX_ITEMS = 100
OUT_OF_DATE = _("This form is out of date. Reload the page and try again.")


def new_grant_key() -> str:
    """A key for one grant form. "#" never appears in API clients' keys, so the two cannot collide."""
    return f"dashboard#{uuid.uuid4().hex}"


class KeyedForm(Form):
    extra_kwargs: dict = {}  # what the form's constructor takes besides the data (renewed() passes it on)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=100, validators=[RegexValidator(KEY_FORMAT)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", new_grant_key())

    def clean(self):
        cleaned = super().clean()
        if "idempotency_key" in self.errors:  # a hidden field: its error would not show
            raise forms.ValidationError(OUT_OF_DATE)
        return cleaned

    def renewed(self) -> "KeyedForm":
        """The same form, as posted, with a fresh key (for a form that was already used for another grant)."""
        data = self.data.copy()
        data["idempotency_key"] = new_grant_key()
        return type(self)(data, **self.extra_kwargs)


def _template_choices(shop: Shop) -> dict:
    return {template.pk: template for template in templates_claimable(shop=shop)}


class SegmentGrantForm(KeyedForm):
    """A template granted to every member of a segment. Each segment is shown with its member count now."""

    template = forms.TypedChoiceField(label=_("Coupon"), coerce=int)
    segment = forms.TypedChoiceField(label=_("Segment"), coerce=int)

    def __init__(self, *args, shop: Shop, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_kwargs = {"shop": shop}
        self.templates = _template_choices(shop)
        self.fields["template"].choices = [(pk, t.name) for pk, t in self.templates.items()]
        self.segments = {segment.pk: segment for segment in segment_list(shop=shop)}
        self.fields["segment"].choices = [(pk, self._segment_label(shop, s)) for pk, s in self.segments.items()]

    @staticmethod
    def _segment_label(shop: Shop, segment) -> str:
        try:
            count = segment_count(shop=shop, definition=segment.definition)
        except InvalidFilter:
            return _("%(name)s (its conditions are no longer valid)") % {"name": segment.name}
        label = ngettext("%(name)s (%(count)s member now)", "%(name)s (%(count)s members now)", count)
        return label % {"name": segment.name, "count": f"{count:,}"}

    def clean_template(self):
        return self.templates[self.cleaned_data["template"]]

    def clean_segment(self):
        return self.segments[self.cleaned_data["segment"]]


class MemberGrantForm(KeyedForm):
    """One coupon granted to one member by staff, or given as compensation (which ignores the audience)."""

    SOURCES = [
        (Source.GRANT, _("Grant (only to members of the coupon's audience, within the limit per member)")),
        (Source.COMPENSATION, _("Compensation (to any member, outside the audience and the limit)")),
    ]

    template = forms.TypedChoiceField(label=_("Coupon"), coerce=int)
    source = forms.ChoiceField(label=_("As"), choices=SOURCES, initial=Source.GRANT, widget=forms.RadioSelect)
    note = forms.CharField(label=_("Reason"), max_length=200, help_text=_("Recorded in the audit log with the coupon."))

    def __init__(self, *args, shop: Shop, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_kwargs = {"shop": shop}
        self.templates = _template_choices(shop)
        self.fields["template"].choices = [(pk, t.name) for pk, t in self.templates.items()]

    def clean_template(self):
        return self.templates[self.cleaned_data["template"]]

    def clean_note(self) -> str:
        return self.cleaned_data["note"].strip()


# --- The clerk's lookup -----------------------------------------------------------------------------------------


class CodeField(forms.CharField):
    """A coupon code as typed: any case, spaces and hyphens ignored (as coupons.redemption.coupon_find reads it)."""

    def __init__(self, **kwargs):
        super().__init__(max_length=64, **kwargs)

    def clean(self, value):
        code = code_normalize(super().clean(value) or "")
        if self.required and not code:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return code


class LookupForm(Form):
    code = CodeField(
        label=_("Coupon code"),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "spellcheck": "false"}),
    )


_ITEM_SEPARATORS = re.compile(r"\s*[,，\t]\s*")


class RedeemForm(Form):
    """An order to check a coupon against (`validate`) or to use it on (`redeem`). The member is the coupon's
    holder; a code nobody holds yet (a generated or imported one) needs the shopper's phone, which becomes its
    holder. The phone is posted, never put in a URL."""

    VALIDATE, REDEEM = "validate", "redeem"

    code = CodeField(widget=forms.HiddenInput)
    order_external_id = forms.CharField(label=_("Order number"), max_length=64, required=False)
    order_amount = forms.DecimalField(
        label=_("Order amount"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=MAX_AMOUNT,
        help_text=_("What the shopper pays before the coupon."),
    )
    shipping = forms.DecimalField(
        label=_("Shipping fee"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=MAX_AMOUNT,
        required=False,
        help_text=_("For free shipping coupons."),
    )
    items = forms.CharField(
        label=_("Items"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For coupons on some items only: one item a line, as SKU, category, quantity, unit price."),
    )
    phone = forms.CharField(
        label=_("Shopper's phone"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
        help_text=_("Only for a code no member holds yet: the shopper using it."),
    )

    def __init__(self, *args, shop: Shop, holder: Member | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.shop, self.holder = shop, holder
        if holder is not None:
            del self.fields["phone"]

    def clean_order_external_id(self) -> str:
        return self.cleaned_data["order_external_id"].strip()

    def clean_items(self) -> tuple[CartItem, ...]:
        lines = [line.strip() for line in self.cleaned_data["items"].splitlines() if line.strip()]
        if len(lines) > MAX_ITEMS:
            raise forms.ValidationError(_("At most %(max)s items.") % {"max": MAX_ITEMS})
        items = []
        for number, line in enumerate(lines, start=1):
            parts = _ITEM_SEPARATORS.split(line)
            try:
                sku, category, quantity, price = parts
                item = CartItem(
                    sku=sku, category=category, quantity=parse_int(quantity.strip()) or 0, unit_price=Decimal(price)
                )
                valid = sku and 0 < item.quantity <= 100_000 and Decimal(0) <= item.unit_price <= MAX_AMOUNT
            except (ValueError, ArithmeticError):
                valid = False
            if not valid:
                raise forms.ValidationError(
                    _("Line %(line)s: write SKU, category, quantity, unit price (e.g. A100, 母婴, 2, 59.90).")
                    % {"line": number}
                )
            items.append(item)
        return tuple(items)

    def clean_phone(self) -> Member | None:
        raw = self.cleaned_data["phone"].strip()
        if not raw:
            return None
        try:
            phone = normalize_phone(raw)
        except InvalidPhone:
            raise forms.ValidationError(_("Enter a valid phone number.")) from None
        member = member_search(shop=self.shop, phone=phone).exclude(status=MemberStatus.ERASED).first()
        if member is None:
            raise forms.ValidationError(_("No member has this phone number."))
        return member

    def member(self) -> Member | None:
        """Who uses the coupon: its holder, or the member the phone names."""
        return self.holder or self.cleaned_data.get("phone")

    def clean(self):
        cleaned = super().clean()
        if self.holder is None and "phone" not in self.errors and not cleaned.get("phone"):
            self.add_error("phone", _("This code is not held by a member yet: enter the shopper's phone."))
        return cleaned

    def require_order(self) -> bool:
        """A redemption is tied to an order: its number is needed (a check of the amount alone does without)."""
        if not self.cleaned_data.get("order_external_id"):
            self.add_error("order_external_id", _("Enter the order number to use the coupon on."))
            return False
        return True
