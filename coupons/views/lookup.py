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
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from members.phones import mask_phone
from shops.dashboard import ShopStaffMixin
from shops.errors import ApplicationError
from shops.models import Shop
from shops.roles import Perm

from ..codes import code_display
from ..forms.grants import LookupForm, RedeemForm
from ..models import Coupon, CouponStatus
from ..redemption import coupon_find, coupon_redeem, coupon_validate
from ..rules import Cart
from ..selectors import coupon_redemptions
from .words import money, value_in_words


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
                shop=self.shop,
                code=coupon.code,
                member=form.member(),
                order_external_id=data["order_external_id"],
                cart=cart,
                actor=self.actor,
            )
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
                words=value_in_words(shop=self.shop, template=coupon.template),
                state=CouponStatus(coupon_state(coupon, timezone.now())),
                holder=holder,
                holder_phone=mask_phone(holder.phone) if holder else "",
                redemptions=coupon_redemptions(shop=self.shop, coupon=coupon),
            )
        return context
