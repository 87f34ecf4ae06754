"""Dashboard forms of the coupon templates area: the template editor, the codes forms (generate, import a file) and
the tier gifts. They parse what staff type and files they upload; coupons.services and coupons.tier_gift_services
check the rules and say what is wrong. Choices of tiers, tags, segments and templates come from the shop's
selectors, so another shop's id is never a valid choice."""

import csv
import datetime
import io
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members.imports.files import text_of_upload
from members.models import MAX_POINTS
from members.segments import segment_list
from members.tags import tag_list
from points.forms import CATEGORY_SEPARATORS
from shops.forms import Form
from shops.models import Shop
from shops.time import shop_zone
from tiers.selectors import tiers_of_shop

from ..codes import code_normalize
from ..models import (
    Audience,
    CouponKind,
    CouponTemplate,
    Occasion,
    RefundPolicy,
    Scope,
    TemplateStatus,
    UseChannel,
)
from ..selectors import template_list
from ..services import MAX_CODES_PER_BATCH, TEMPLATE_FIELDS
from ..tier_gift_services import MAX_QUANTITY

MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": 0}
MAX_DAYS = 3650
MAX_STOCK = 10**9


class WindowChoice:
    DAYS = "days"
    DATES = "dates"
    CHOICES = (
        (DAYS, _("For some days after it is received")),
        (DATES, _("Between fixed dates")),
    )


class ShopDateTimeField(forms.DateTimeField):
    """A date and time typed in the shop's time zone (set `zone` per form), whatever the server's."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    zone = datetime.UTC

    def prepare_value(self, value):
        with timezone.override(self.zone):
            return super().prepare_value(value)

    def to_python(self, value):
        with timezone.override(self.zone):
            return super().to_python(value)


def _money(label, help_text=""):
    return forms.DecimalField(label=label, required=False, help_text=help_text, **MONEY)


def _checkboxes(label):
    return forms.TypedMultipleChoiceField(label=label, required=False, coerce=int, widget=forms.CheckboxSelectMultiple)


class TemplateForm(Form):
    """Every field of a coupon template (coupons.services.TEMPLATE_FIELDS), in the editor's sections. Fields that
    the chosen audience, scope or use window does not use are cleared, so that a value left in a hidden field is
    not stored."""

    # What it gives
    name = forms.CharField(label=_("Name"), max_length=60, help_text=_("Shown to shoppers, e.g. 满100减20."))
    kind = forms.ChoiceField(label=_("Kind"), choices=CouponKind.choices)
    value = _money(
        _("Value"),
        _(
            "Amount off; for a percent-off coupon the percentage taken off (20 means 20% off, 8折); for free "
            "shipping the most it covers (empty: all of it); for a gift or an exchange the item's value."
        ),
    )
    min_spend = _money(_("Minimum spend"), _("Empty: no minimum."))
    max_discount = _money(_("Maximum discount"), _("Percent-off coupons only. Empty: no cap."))
    item_sku = forms.CharField(
        label=_("Item SKU"), max_length=64, required=False, help_text=_("Gift and exchange coupons: the item given.")
    )
    item_name = forms.CharField(label=_("Item name"), max_length=60, required=False)
    description = forms.CharField(
        label=_("Terms shown to shoppers"), max_length=200, required=False, widget=forms.Textarea({"rows": 2})
    )
    # Where it applies
    scope = forms.ChoiceField(label=_("Applies to"), choices=Scope.choices)
    scope_values = forms.CharField(
        label=_("Categories or SKUs"),
        max_length=2000,
        required=False,
        help_text=_("Their exact names, separated by commas."),
    )
    use_channel = forms.ChoiceField(label=_("Where it is used"), choices=UseChannel.choices)
    stackable = forms.BooleanField(
        label=_("Stackable"), required=False, help_text=_("May be used on one order together with other coupons.")
    )
    on_refund = forms.ChoiceField(label=_("When the order is refunded"), choices=RefundPolicy.choices)
    # Who may have it
    audience = forms.ChoiceField(label=_("Who may have it"), choices=Audience.choices, widget=forms.RadioSelect)
    audience_tiers = _checkboxes(_("Tiers"))
    audience_tags = _checkboxes(_("Tags"))
    audience_segment = forms.TypedChoiceField(label=_("Segment"), required=False, coerce=int, empty_value=None)
    new_member_days = forms.IntegerField(
        label=_("New members: joined within (days)"), required=False, min_value=1, max_value=MAX_DAYS
    )
    shopper_claimable = forms.BooleanField(
        label=_("Members may claim it in the member centre"),
        required=False,
        help_text=_("Off: only given by staff, campaigns, gifts or the points mall."),
    )
    # When
    claim_starts_at = ShopDateTimeField(label=_("Claims open"), required=False, help_text=_("Empty: at once."))
    claim_ends_at = ShopDateTimeField(label=_("Claims close"), required=False, help_text=_("Empty: no end."))
    window = forms.ChoiceField(label=_("Usable"), choices=WindowChoice.CHOICES, widget=forms.RadioSelect)
    valid_days = forms.IntegerField(
        label=_("Valid for (days)"),
        required=False,
        min_value=1,
        max_value=MAX_DAYS,
        help_text=_("Counting the day it is received, to the end of the last day."),
    )
    valid_from = ShopDateTimeField(label=_("Valid from"), required=False, help_text=_("Empty: from when received."))
    valid_until = ShopDateTimeField(label=_("Valid until"), required=False)
    # How many
    stock = forms.IntegerField(
        label=_("Stock"), required=False, min_value=1, max_value=MAX_STOCK, help_text=_("Empty: unlimited.")
    )
    per_member_limit = forms.IntegerField(label=_("Limit per member"), min_value=1, max_value=1000)
    points_price = forms.IntegerField(
        label=_("Points price"),
        required=False,
        min_value=1,
        max_value=MAX_POINTS,
        help_text=_("Set: offered in the points mall for this many points. Empty: not in the mall."),
    )

    SECTIONS = (
        (
            _("What it gives"),
            ("name", "kind", "value", "min_spend", "max_discount", "item_sku", "item_name", "description"),
        ),
        (_("Where it applies"), ("scope", "scope_values", "use_channel", "stackable", "on_refund")),
        (
            _("Who may have it"),
            ("audience", "audience_tiers", "audience_tags", "audience_segment", "new_member_days", "shopper_claimable"),
        ),
        (_("When"), ("claim_starts_at", "claim_ends_at", "window", "valid_days", "valid_from", "valid_until")),
        (_("How many"), ("stock", "per_member_limit", "points_price")),
    )
    # Shown only for some values of another field (static/coupons/preview.js hides the others).
    SHOWN_WHEN = {
        "min_spend": ("kind", [k for k in CouponKind.values if k != CouponKind.NO_THRESHOLD]),
        "max_discount": ("kind", [CouponKind.PERCENT_OFF]),
        "item_sku": ("kind", [CouponKind.GIFT, CouponKind.EXCHANGE]),
        "item_name": ("kind", [CouponKind.GIFT, CouponKind.EXCHANGE]),
        "scope_values": ("scope", [Scope.CATEGORIES, Scope.SKUS]),
        "audience_tiers": ("audience", [Audience.TIERS]),
        "audience_tags": ("audience", [Audience.TAGS]),
        "audience_segment": ("audience", [Audience.SEGMENT]),
        "new_member_days": ("audience", [Audience.NEW_MEMBERS]),
        "valid_days": ("window", [WindowChoice.DAYS]),
        "valid_from": ("window", [WindowChoice.DATES]),
        "valid_until": ("window", [WindowChoice.DATES]),
    }
    DEFAULTS = {
        "kind": CouponKind.AMOUNT_OFF,
        "scope": Scope.ORDER,
        "use_channel": UseChannel.BOTH,
        "on_refund": RefundPolicy.RESTORE,
        "audience": Audience.EVERYONE,
        "new_member_days": 30,
        "window": WindowChoice.DAYS,
        "valid_days": 30,
        "per_member_limit": 1,
    }

    def __init__(self, *args, shop: Shop, **kwargs):
        super().__init__(*args, **kwargs)
        zone = shop_zone(shop)
        for field in self.fields.values():
            if isinstance(field, ShopDateTimeField):
                field.zone = zone
        self.fields["audience_tiers"].choices = [(tier.pk, tier.name) for tier in tiers_of_shop(shop=shop)]
        self.fields["audience_tags"].choices = [(tag.pk, tag.name) for tag in tag_list(shop=shop)]
        self.segments = {segment.pk: segment for segment in segment_list(shop=shop)}
        self.fields["audience_segment"].choices = [("", "—")] + [(pk, s.name) for pk, s in self.segments.items()]

    @classmethod
    def initial_for(cls, template: CouponTemplate) -> dict:
        initial = {name: getattr(template, name) for name in TEMPLATE_FIELDS}
        initial["scope_values"] = ", ".join(template.scope_values)
        initial["audience_segment"] = template.audience_segment_id
        initial["window"] = WindowChoice.DAYS if template.valid_days is not None else WindowChoice.DATES
        return initial

    def shown_when(self) -> dict:
        """SHOWN_WHEN for static/coupons/preview.js: {field: [controlling field, [values]]}."""
        return {name: [controller, [str(v) for v in values]] for name, (controller, values) in self.SHOWN_WHEN.items()}

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in self.SECTIONS]

    def clean_scope_values(self) -> list[str]:
        text = self.cleaned_data["scope_values"]
        return [part.strip() for part in CATEGORY_SEPARATORS.split(text) if part.strip()]

    def clean_audience_segment(self):
        pk = self.cleaned_data["audience_segment"]
        return None if pk is None else self.segments[pk]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("value") is None and "value" not in self.errors:
            cleaned["value"] = Decimal(0)
        audience = cleaned.get("audience")
        for name, wanted in (("audience_tiers", Audience.TIERS), ("audience_tags", Audience.TAGS)):
            if audience != wanted:
                cleaned[name] = []
        if audience != Audience.SEGMENT:
            cleaned["audience_segment"] = None
        if cleaned.get("new_member_days") is None and "new_member_days" not in self.errors:
            # Hidden (and so not posted) unless the audience is new members: keep what it was.
            cleaned["new_member_days"] = self.initial.get("new_member_days") or self.DEFAULTS["new_member_days"]
        if cleaned.get("scope") == Scope.ORDER:
            cleaned["scope_values"] = []
        window = cleaned.get("window")
        if window == WindowChoice.DAYS:
            cleaned["valid_from"] = cleaned["valid_until"] = None
            if cleaned.get("valid_days") is None and "valid_days" not in self.errors:
                self.add_error("valid_days", _("Give the number of days the coupon is valid."))
        elif window == WindowChoice.DATES:
            cleaned["valid_days"] = None
            if cleaned.get("valid_until") is None and "valid_until" not in self.errors:
                self.add_error("valid_until", _("Give the end of the use window."))
        return cleaned

    def template_data(self) -> dict:
        """The TEMPLATE_FIELDS of a valid form, for template_create and template_update."""
        return {name: self.cleaned_data[name] for name in TEMPLATE_FIELDS}


class TemplateFilterForm(Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All")), *TemplateStatus.choices],
        widget=forms.Select({"data-autosubmit": ""}),
    )


class CodesGenerateForm(Form):
    count = forms.IntegerField(
        label=_("Number of codes"),
        min_value=1,
        max_value=MAX_CODES_PER_BATCH,
        initial=100,
        help_text=_("Bearer codes for printing or handing out; each counts against the stock."),
    )


MAX_IMPORT_BYTES = 2 * 1024 * 1024
# codes_import checks the codes against the shop's in one `IN (...)` query: SQLite refuses more than 32,766
# parameters, so a file holds at most this many (a 500 otherwise; PostgreSQL would take more).
MAX_IMPORT_CODES = 20_000
# A first line holding one of these (any case, spaces ignored) is a column heading, not a code.
HEADINGS = {"CODE", "CODES", "COUPONCODE", "COUPON_CODE", "券码", "优惠码", "优惠券码", "兑换码", "券号", "卡密"}


class CodesImportForm(Form):
    """An uploaded list of external codes: a CSV (its first column) or a text file (one code per line), in UTF-8
    or GBK, up to 2 MB. Blank lines and a heading on the first line are skipped; `codes` keeps each code with the
    line of the file it was on, so errors name the line the merchant sees."""

    file = forms.FileField(label=_("File"), widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = gettext(
            "CSV (the first column) or TXT (one code per line), UTF-8 or GBK, up to %(mb)d MB. Codes have 4 to 32 "
            "letters and digits; spaces and hyphens are ignored."
        ) % {"mb": MAX_IMPORT_BYTES // (1024 * 1024)}
        self.codes: list[str] = []
        self.lines: list[int] = []

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise forms.ValidationError(_("Upload a .csv or .txt file."))
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(_("The file is larger than %(mb)d MB.") % {"mb": MAX_IMPORT_BYTES // 2**20})
        data = upload.read(MAX_IMPORT_BYTES + 1)
        text = _decode(data)
        rows = _first_column(text) if upload.name.lower().endswith(".csv") else _lines(text)
        for line, cell in rows:
            if not cell or (line == 1 and code_normalize(cell) in HEADINGS):
                continue
            self.codes.append(cell)
            self.lines.append(line)
        if not self.codes:
            raise forms.ValidationError(_("The file holds no codes."))
        if len(self.codes) > MAX_IMPORT_CODES:
            raise forms.ValidationError(
                _("Import at most %(max)s codes at a time: split the file.") % {"max": f"{MAX_IMPORT_CODES:,}"}
            )
        return upload

    def line_errors(self, errors: list[dict]) -> list[dict]:
        """codes_import's errors (numbered by position in `codes`) numbered by the line of the file instead."""
        first: dict[str, int] = {}
        for index, code in enumerate(self.codes):
            first.setdefault(code_normalize(code), index)
        result = []
        for error in errors:
            index = error["line"] - 1
            if not 0 <= index < len(self.codes):
                result.append(error)
                continue
            earlier = first[code_normalize(self.codes[index])]
            message = error["message"]
            if earlier != index:  # the service says which position it repeats: say which line
                message = gettext("Repeats line %(line)d.") % {"line": self.lines[earlier]}
            result.append({**error, "line": self.lines[index], "message": message})
        return result


def _decode(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04"):
        raise forms.ValidationError(_("This is a spreadsheet: save it as CSV, or as text with one code per line."))
    text = text_of_upload(data)
    if text is None:
        raise forms.ValidationError(_("The file is not UTF-8 or GBK text: save it as CSV (UTF-8) or plain text."))
    return text


def _lines(text: str):
    return ((number, line.strip()) for number, line in enumerate(text.splitlines(), start=1))


def _first_column(text: str):
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)  # a stray quote must not join lines
    try:
        rows = [(reader.line_num, row[0].strip() if row else "") for row in reader]
    except csv.Error as exc:
        raise forms.ValidationError(
            _("The file is not valid CSV (line %(line)d).") % {"line": reader.line_num}
        ) from exc
    return rows


class TierGiftForm(Form):
    """One gift of a tier: the tier is posted as a hidden field of the tier's own form."""

    tier = forms.TypedChoiceField(coerce=int, widget=forms.HiddenInput)
    occasion = forms.ChoiceField(label=_("When"), choices=Occasion.choices)
    template = forms.TypedChoiceField(label=_("Coupon"), coerce=int)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=MAX_QUANTITY, initial=1)

    def __init__(self, *args, shop: Shop, tiers: list | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tiers = {tier.pk: tier for tier in (tiers if tiers is not None else tiers_of_shop(shop=shop))}
        self.fields["tier"].choices = [(pk, tier.name) for pk, tier in self.tiers.items()]
        self.templates = {t.pk: t for t in template_list(shop=shop).exclude(status=TemplateStatus.ENDED)}
        self.fields["template"].choices = [(pk, t.name) for pk, t in self.templates.items()]
        shown_for = self.tiers.get(self.initial.get("tier"))
        if not self.is_bound and shown_for is not None and shown_for.rank == 0:  # held from joining: never reached
            self.fields["occasion"].choices = [c for c in Occasion.choices if c[0] != Occasion.UPGRADE]

    def clean_tier(self):
        return self.tiers[self.cleaned_data["tier"]]

    def clean_template(self):
        return self.templates[self.cleaned_data["template"]]
