"""The clerk's lookup: a coupon found by its code as the shopper reads it out (any case, spaces and hyphens
ignored), with what it gives, its state, its holder (phone masked) and its redemptions; an order amount checked
against it, and the coupon used on an order. Perm.COUPONS_REDEEM.

The code may travel in the URL (?code=, so a lookup can be reloaded); codes are not personal data. The shopper's
phone, needed only for a code no member holds yet, is posted and never put in a URL."""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import QueryDict
from django.shortcuts import redirect
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from members.phones import mask_phone
from shops.dashboard import ShopStaffMixin
from shops.errors import ApplicationError
from shops.models import Shop
from shops.roles import Perm
from tiers.selectors import CURRENCY_SYMBOLS

from ..codes import code_display
from ..forms.grants import LookupForm, RedeemForm
from ..models import Coupon, CouponKind, CouponStatus, CouponTemplate
from ..redemption import coupon_find, coupon_redeem, coupon_validate
from ..rules import Cart
from ..selectors import coupon_redemptions


def money(shop: Shop, amount: Decimal) -> str:
    """¥20, ¥20.50: the shop's currency symbol (as tiers.selectors writes amounts), cents only when there are
    some."""
    return f"{CURRENCY_SYMBOLS.get(shop.currency, f'{shop.currency} ')}{floatformat(amount, '-2')}"


def value_in_words(shop: Shop, template: CouponTemplate) -> str:
    """What the coupon gives, as a clerk reads it out: "¥20 off orders over ¥100", "20% off, at most ¥50 off"."""
    kind, value = template.kind, template.value or Decimal(0)
    if kind in (CouponKind.AMOUNT_OFF, CouponKind.NO_THRESHOLD):
        offer = _("%(value)s off") % {"value": money(shop, value)}
    elif kind == CouponKind.PERCENT_OFF:
        offer = _("%(percent)s%% off") % {"percent": format(value.normalize(), "f")}
        if template.max_discount:
            offer = _("%(offer)s, at most %(max)s off") % {"offer": offer, "max": money(shop, template.max_discount)}
    elif kind == CouponKind.FREE_SHIPPING:
        offer = _("Free shipping up to %(max)s") % {"max": money(shop, value)} if value else _("Free shipping")
    elif kind == CouponKind.GIFT:
        offer = _("Gift: %(item)s") % {"item": template.item_name or template.item_sku}
    else:
        offer = _("Exchange voucher: %(item)s") % {"item": template.item_name or template.item_sku}
    if template.min_spend:
        return _("%(offer)s, on orders over %(min)s") % {"offer": offer, "min": money(shop, template.min_spend)}
    if kind == CouponKind.NO_THRESHOLD:
        return _("%(offer)s, no minimum spend") % {"offer": offer}
    return offer


def lookup_url(shop: Shop, code: str = "") -> str:
    url = reverse("dashboard:coupon_lookup", args=[shop.slug])
    return f"{url}?{QueryDict.fromkeys(['code'], code).urlencode()}" if code else url


def coupon_state(coupon: Coupon, now) -> str:
    """The status as it stands now: an available coupon past its window reads as expired before the nightly run
    marks it so."""
    if coupon.status == CouponStatus.AVAILABLE and coupon.valid_until is not None and now >= coupon.valid_until:
        return CouponStatus.EXPIRED
    return coupon.status


class LookupView(ShopStaffMixin, TemplateView):
    """GET ?code= shows the coupon and the order form; POST (the order form) checks the amount (action=validate)
    or uses the coupon (action=redeem, then back to the lookup with the outcome as a message)."""

    permission = Perm.COUPONS_REDEEM
    template_name = "coupons/lookup.html"

    def find(self, code: str) -> Coupon | None:
        try:
            return coupon_find(shop=self.shop, code=code)
        except ObjectDoesNotExist:
            return None

    def get(self, request, *args, **kwargs):
        lookup_form = LookupForm(request.GET if "code" in request.GET else None)
        coupon = None
        if lookup_form.is_bound and lookup_form.is_valid():
            coupon = self.find(lookup_form.cleaned_data["code"])
            if coupon is None:
                lookup_form.add_error("code", _("No coupon has this code. Check it with the shopper and try again."))
        redeem_form = None
        if coupon is not None:
            redeem_form = RedeemForm(shop=self.shop, holder=coupon.member, initial={"code": coupon.code})
        return self.render_to_response(self.get_context_data(lookup_form=lookup_form, coupon=coupon, form=redeem_form))

    def post(self, request, *args, **kwargs):
        lookup_form = LookupForm(request.POST)
        coupon = self.find(lookup_form.cleaned_data["code"]) if lookup_form.is_valid() else None
        if coupon is None:
            messages.error(request, _("No coupon has this code. Check it with the shopper and try again."))
            return redirect(lookup_url(self.shop))
        form = RedeemForm(request.POST, shop=self.shop, holder=coupon.member)
        context = {"lookup_form": LookupForm(initial={"code": code_display(coupon.code)}), "coupon": coupon}
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form, **context))
        data = form.cleaned_data
        cart = Cart(amount=data["order_amount"], items=data["items"], shipping=data["shipping"] or Decimal(0))
        if request.POST.get("action") != RedeemForm.REDEEM:
            validation = coupon_validate(shop=self.shop, code=coupon.code, member=form.member(), cart=cart)
            discount = money(self.shop, validation.discount)
            return self.render_to_response(
                self.get_context_data(form=form, validation=validation, validation_discount=discount, **context)
            )
        if not form.require_order():
            return self.render_to_response(self.get_context_data(form=form, **context))
        try:
            redeemed = coupon_redeem(
                shop=self.shop, code=coupon.code, member=form.member(), order_external_id=data["order_external_id"],
                cart=cart, actor=self.actor,
            )  # fmt: skip
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return self.render_to_response(self.get_context_data(form=form, **context))
        redemption = redeemed.redemption
        values = {"order": redemption.order_external_id, "discount": money(self.shop, redemption.discount)}
        if redeemed.created:
            messages.success(request, _("Coupon used on order %(order)s: %(discount)s off.") % values)
        else:
            messages.info(request, _("This coupon was already used on order %(order)s; nothing changed.") % values)
        return redirect(lookup_url(self.shop, code_display(coupon.code)))

    def get_context_data(self, *, coupon: Coupon | None = None, **kwargs):
        context = super().get_context_data(coupon=coupon, **kwargs)
        if coupon is not None:
            holder = coupon.member
            context.update(
                code=code_display(coupon.code),
                words=value_in_words(self.shop, coupon.template),
                state=CouponStatus(coupon_state(coupon, timezone.now())),
                holder=holder,
                holder_phone=mask_phone(holder.phone) if holder else "",
                redemptions=coupon_redemptions(shop=self.shop, coupon=coupon),
            )
        return context
