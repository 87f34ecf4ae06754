"""Operations views of coupons across shops (AdminScopesDisabledMiddleware lifts the shop scope for /admin/).

A template's terms can be corrected here, checked by the same rules as the dashboard's editor and audited; its
`issued` counter and its shop cannot (issuance keeps the counter). Coupons, redemptions, grants, gift runs and
points exchanges are history and read-only: they change only through the services (redeem, refund, fulfil)."""

from django.contrib import admin

from shops.admin import ReadOnlyAdmin
from shops.forms import ModelForm
from shops.services import Actor

from .mall import GIFT_FIELDS, gift_errors, gift_save
from .models import Coupon, CouponTemplate, Exchange, Gift, GiftRun, GrantJob, Redemption, TierGift
from .services import TEMPLATE_FIELDS, template_errors, template_update


class CouponTemplateForm(ModelForm):
    """The editor's fields, checked together against the template's shop as coupons.services checks them. The
    segment stays read-only: its choices would be every shop's segments (and a form field over a shop-scoped model
    cannot even be built outside a scope)."""

    class Meta:
        model = CouponTemplate
        fields = [name for name in TEMPLATE_FIELDS if name != "audience_segment"]

    def _post_clean(self):
        super()._post_clean()  # the cleaned values are now on the instance
        for name, message in template_errors(self.instance.shop, self.instance).items():
            if name in self.fields and not self.has_error(name):
                self.add_error(name, message)


@admin.register(CouponTemplate)
class CouponTemplateAdmin(admin.ModelAdmin):
    form = CouponTemplateForm
    list_display = ["name", "shop", "kind", "status", "stock", "issued", "points_price", "created_at"]
    list_filter = ["kind", "status", "audience"]
    search_fields = ["name", "shop__slug"]
    list_select_related = ["shop"]
    readonly_fields = ["shop", "status", "audience_segment", "issued", "created_at", "updated_at"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, which locks the row and re-reads it: a plain save would write back the `issued` read
        # when the request began, losing the coupons issued meanwhile. It also audits the change.
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        template_update(shop=obj.shop, actor=Actor.for_user(request.user), template=obj, data=changed)


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdmin):
    list_display = ["code", "shop", "template", "member", "status", "source", "issued_at", "valid_until"]
    list_filter = ["status", "source"]
    search_fields = ["=code", "=idempotency_key", "shop__slug"]
    list_select_related = ["shop", "template", "member"]
    show_full_result_count = False


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = [
        "redeemed_at",
        "shop",
        "coupon",
        "member",
        "order_external_id",
        "order_amount",
        "discount",
        "reversal",
        "reversed_at",
    ]
    list_filter = ["reversal"]
    search_fields = ["=coupon__code", "=order_external_id", "shop__slug"]
    list_select_related = ["shop", "coupon", "member"]
    show_full_result_count = False


@admin.register(GrantJob)
class GrantJobAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "shop",
        "template",
        "segment",
        "status",
        "members_total",
        "members_done",
        "issued",
        "finished_at",
    ]
    list_filter = ["status"]
    search_fields = ["shop__slug", "template__name"]
    list_select_related = ["shop", "template", "segment"]


@admin.register(TierGift)
class TierGiftAdmin(ReadOnlyAdmin):
    """Read-only as the other rules here: the merchant sets tier gifts in the dashboard."""

    list_display = ["shop", "tier", "occasion", "template", "quantity"]
    list_filter = ["occasion"]
    search_fields = ["shop__slug", "template__name"]
    list_select_related = ["shop", "tier", "template"]


@admin.register(GiftRun)
class GiftRunAdmin(ReadOnlyAdmin):
    list_display = ["finished_at", "shop", "occasion", "period", "issued"]
    list_filter = ["occasion"]
    search_fields = ["shop__slug", "=period"]
    list_select_related = ["shop"]


class GiftForm(ModelForm):
    class Meta:
        model = Gift
        fields = list(GIFT_FIELDS)

    def _post_clean(self):
        super()._post_clean()
        for name, message in gift_errors(self.instance).items():
            if name in self.fields and not self.has_error(name):
                self.add_error(name, message)


@admin.register(Gift)
class GiftAdmin(admin.ModelAdmin):
    """Saved through coupons.mall.gift_save (the row locked, the stock checked against the exchanges, audited)."""

    form = GiftForm
    list_display = ["name", "shop", "points_price", "stock", "issued", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "shop__slug"]
    list_select_related = ["shop"]
    readonly_fields = ["shop", "issued", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        gift_save(shop=obj.shop, actor=Actor.for_user(request.user), gift=obj, **changed)


@admin.register(Exchange)
class ExchangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "shop", "member", "template", "gift", "points", "status", "tracking_number"]
    list_filter = ["status"]
    search_fields = ["=idempotency_key", "=coupon__code", "=tracking_number", "shop__slug"]
    list_select_related = ["shop", "member", "template", "gift"]
    show_full_result_count = False
    exclude = ["body_hash"]
