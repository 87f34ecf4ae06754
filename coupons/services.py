"""Coupon templates and codes: creating and changing templates (every field checked against the others and the
shop), pausing and ending them, generating bearer codes in bulk and importing external ones. Codes count against
the template's stock like any issue (they lock the template the same way, coupons.issuance)."""

import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Tag
from shops.bulk import insert_rows
from shops.models import Shop
from shops.services import Actor, audit_record
from tiers.models import Tier

from .codes import IMPORTED_CODE, code_new, code_normalize
from .errors import InvalidCodes, InvalidTemplate, OutOfStock
from .issuance import COUPON_COLUMNS, issuable_check, template_lock
from .models import Audience, Coupon, CouponKind, CouponStatus, CouponTemplate, Scope, Source, TemplateStatus

TEMPLATE_FIELDS = [
    "name",
    "description",
    "kind",
    "value",
    "min_spend",
    "max_discount",
    "item_sku",
    "item_name",
    "scope",
    "scope_values",
    "audience",
    "audience_tiers",
    "audience_tags",
    "audience_segment",
    "new_member_days",
    "claim_starts_at",
    "claim_ends_at",
    "valid_days",
    "valid_from",
    "valid_until",
    "stock",
    "per_member_limit",
    "stackable",
    "points_price",
    "use_channel",
    "on_refund",
    "shopper_claimable",
]
MAX_CODES_PER_BATCH = 100_000


def template_errors(shop: Shop, t: CouponTemplate) -> dict[str, str]:
    """Every rule a template's fields must keep together, as {field: message}."""
    errors = {}
    if t.kind in (CouponKind.AMOUNT_OFF, CouponKind.NO_THRESHOLD) and not (t.value and t.value > 0):
        errors["value"] = _("Give the amount taken off.")
    if t.kind == CouponKind.PERCENT_OFF and not (t.value is not None and 0 < t.value < 100):
        errors["value"] = _("Give the percentage taken off, between 0 and 100 (20 means 20% off).")
    if t.kind == CouponKind.AMOUNT_OFF and not t.min_spend:
        errors["min_spend"] = _("An amount-off coupon needs a minimum spend (use “no threshold” otherwise).")
    if t.kind == CouponKind.NO_THRESHOLD and t.min_spend:
        errors["min_spend"] = _("A no-threshold coupon has no minimum spend.")
    if t.kind == CouponKind.AMOUNT_OFF and t.min_spend and t.value and t.value > t.min_spend:
        errors["value"] = _("The amount off cannot be more than the minimum spend.")
    if t.max_discount is not None and t.kind != CouponKind.PERCENT_OFF:
        errors["max_discount"] = _("Only a percent-off coupon has a maximum discount.")
    if t.kind in (CouponKind.GIFT, CouponKind.EXCHANGE) and not t.item_sku:
        errors["item_sku"] = _("Give the SKU of the item this coupon gives.")
    if t.scope != Scope.ORDER and not t.scope_values:
        errors["scope_values"] = _("List the categories or SKUs the coupon applies to.")
    if not isinstance(t.scope_values, list) or not all(isinstance(v, str) and v for v in t.scope_values):
        errors["scope_values"] = _("Categories and SKUs are a list of names.")
    if t.audience == Audience.TIERS:
        known = set(Tier.objects.filter(shop=shop, rank__lt=Tier.RETIRED_RANK).values_list("pk", flat=True))
        if not t.audience_tiers or not set(t.audience_tiers) <= known:
            errors["audience_tiers"] = _("Choose tiers of this shop.")
    if t.audience == Audience.TAGS:
        known = set(Tag.objects.filter(shop=shop).values_list("pk", flat=True))
        if not t.audience_tags or not set(t.audience_tags) <= known:
            errors["audience_tags"] = _("Choose tags of this shop.")
    if t.audience == Audience.SEGMENT and (t.audience_segment is None or t.audience_segment.shop_id != shop.pk):
        errors["audience_segment"] = _("Choose a segment of this shop.")
    if (t.valid_days is None) == (t.valid_until is None):
        errors["valid_days"] = _("Give either a number of days after issue or an end date for using the coupon.")
    if t.valid_days == 0:
        errors["valid_days"] = _("A coupon is valid for at least one day.")
    if t.valid_days is not None and t.valid_from is not None:
        errors["valid_from"] = _("A coupon valid for some days after issue has no fixed start.")
    if t.valid_from and t.valid_until and t.valid_from >= t.valid_until:
        errors["valid_until"] = _("The end of the use window must come after its start.")
    if t.claim_starts_at and t.claim_ends_at and t.claim_starts_at >= t.claim_ends_at:
        errors["claim_ends_at"] = _("Claims must close after they open.")
    if t.stock is not None and t.stock < t.issued:
        errors["stock"] = _("The stock cannot be less than the %(issued)d coupons already issued.") % {
            "issued": t.issued
        }
    return errors


def _validated(shop: Shop, template: CouponTemplate) -> None:
    errors = {}
    try:
        template.full_clean(exclude=["shop"], validate_constraints=False)
    except ValidationError as exc:
        errors = {name: " ".join(str(m) for m in messages) for name, messages in exc.message_dict.items()}
    for name, message in template_errors(shop, template).items():
        errors.setdefault(name, message)
    if errors:
        raise InvalidTemplate(_("Some fields of the coupon are not valid."), details=errors)


@transaction.atomic
def template_create(*, shop: Shop, actor: Actor, data: dict) -> CouponTemplate:
    """`data` holds TEMPLATE_FIELDS (absent ones take their defaults). Raises InvalidTemplate (details: field ->
    message)."""
    unknown = set(data) - set(TEMPLATE_FIELDS)
    assert not unknown, unknown
    template = CouponTemplate(shop=shop, **data)
    _validated(shop, template)
    template.save()
    audit_record(
        shop=shop, actor=actor, action="coupon_template.create", obj=template, changes={"name": ["", template.name]}
    )
    return template


@transaction.atomic
def template_update(*, shop: Shop, actor: Actor, template: CouponTemplate, data: dict) -> CouponTemplate:
    """Change a template's fields. Coupons already issued keep their use window; the rest (discount, scope) applies
    to them from now on. Raises InvalidTemplate."""
    template = template_lock(shop, template)
    before = {name: getattr(template, name) for name in data}
    for name, value in data.items():
        assert name in TEMPLATE_FIELDS, name
        setattr(template, name, value)
    _validated(shop, template)
    template.save()
    changes = {n: [str(before[n]), str(data[n])] for n in data if before[n] != data[n]}
    audit_record(shop=shop, actor=actor, action="coupon_template.update", obj=template, changes=changes)
    return template


@transaction.atomic
def template_set_status(*, shop: Shop, actor: Actor, template: CouponTemplate, status: str) -> CouponTemplate:
    """Pause (no new coupons; issued ones stay usable), resume, or end (for good). Raises InvalidTemplate."""
    template = template_lock(shop, template)
    allowed = {
        TemplateStatus.ACTIVE: {TemplateStatus.PAUSED, TemplateStatus.ENDED},
        TemplateStatus.PAUSED: {TemplateStatus.ACTIVE, TemplateStatus.ENDED},
    }
    if status not in allowed.get(template.status, set()):
        raise InvalidTemplate(_("An ended coupon cannot be changed."), code="invalid_status")
    before, template.status = template.status, status
    template.save(update_fields=["status", "updated_at"])
    audit_record(
        shop=shop, actor=actor, action="coupon_template.status", obj=template, changes={"status": [before, status]}
    )
    return template


def _add_codes(shop: Shop, template: CouponTemplate, codes: list[str], *, source: str, batch: str) -> None:
    """Insert bearer coupons (no member yet) with these codes, counted against the stock. Caller holds the lock."""
    now = timezone.now()
    issuable_check(template, source=source, now=now)
    if template.stock is not None and template.issued + len(codes) > template.stock:
        raise OutOfStock(details={"left": template.stock - template.issued, "asked": len(codes)})
    window = (None, None) if template.valid_days is not None else (template.valid_from, template.valid_until)
    rows = [
        (shop.pk, template.pk, None, code, CouponStatus.AVAILABLE, source, now, *window, f"{source}#{batch}#{i}")
        for i, code in enumerate(codes)
    ]
    insert_rows("coupons_coupon", COUPON_COLUMNS, rows)  # tenant-ok: COUPON_COLUMNS starts with shop_id, shop.pk here
    CouponTemplate.objects.filter(pk=template.pk).update(issued=F("issued") + len(codes))


@transaction.atomic
def codes_generate(*, shop: Shop, actor: Actor, template: CouponTemplate, count: int) -> str:
    """Make `count` new bearer codes (up to MAX_CODES_PER_BATCH) for printing or handing out; a member claims one
    by redeeming it. Returns the batch id (the codes' export filter). Raises NotIssuable, OutOfStock,
    InvalidCodes."""
    if not 1 <= count <= MAX_CODES_PER_BATCH:
        raise InvalidCodes(_("Generate between 1 and %(max)d codes at a time.") % {"max": MAX_CODES_PER_BATCH})
    template = template_lock(shop, template)
    batch = uuid.uuid4().hex[:12]
    _add_codes(shop, template, [code_new() for _ in range(count)], source=Source.GENERATED, batch=batch)
    audit_record(
        shop=shop, actor=actor, action="coupon_codes.generate", obj=template, changes={"codes": ["", str(count)]}
    )
    return batch


@transaction.atomic
def codes_import(*, shop: Shop, actor: Actor, template: CouponTemplate, codes: list[str]) -> dict:
    """Import external codes (4 to 32 letters and digits each; case, spaces and hyphens ignored). All or nothing:
    any bad or duplicate code (in the list or already in the shop) refuses the whole file with each one named by
    line (InvalidCodes, details: {"errors": [{"line", "code", "message"}]}). Returns {"imported", "batch"}."""
    template = template_lock(shop, template)
    errors, seen = [], {}
    for line, raw in enumerate(codes, start=1):
        code = code_normalize(raw)
        if not IMPORTED_CODE.match(code):
            errors.append({"line": line, "code": str(raw)[:40], "message": _("Use 4 to 32 letters and digits.")})
        elif code in seen:
            errors.append({"line": line, "code": code, "message": _("Repeats line %(line)d.") % {"line": seen[code]}})
        else:
            seen[code] = line
    taken = set(Coupon.objects.filter(shop=shop, code__in=list(seen)).values_list("code", flat=True))
    errors += [{"line": seen[c], "code": c, "message": _("This code already exists in the shop.")} for c in taken]
    if not seen and not errors:
        errors.append({"line": 0, "code": "", "message": _("The file holds no codes.")})
    if errors:
        errors.sort(key=lambda e: e["line"])
        raise InvalidCodes(details={"errors": errors})
    batch = uuid.uuid4().hex[:12]
    try:
        with transaction.atomic():
            _add_codes(shop, template, list(seen), source=Source.IMPORTED, batch=batch)
    except IntegrityError:  # the same code imported meanwhile by someone else
        raise InvalidCodes(_("Some codes were imported meanwhile; try again.")) from None
    audit_record(
        shop=shop, actor=actor, action="coupon_codes.import", obj=template, changes={"codes": ["", str(len(seen))]}
    )
    return {"imported": len(seen), "batch": batch}
