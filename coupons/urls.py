from django.urls import path

from . import apis
from .views import grants as grant_views
from .views import lookup as lookup_views
from .views import mall as mall_views
from .views import templates as template_views

# Under /api/v1/, in the "api" namespace.
api_patterns = [
    path("coupon-templates/", apis.TemplateListCreateApi.as_view(), name="coupon_templates"),
    path("coupon-templates/<int:pk>/", apis.TemplateDetailApi.as_view(), name="coupon_template"),
    path("members/<int:pk>/coupons/", apis.MemberCouponsApi.as_view(), name="member_coupons"),
    path("coupons/validate/", apis.ValidateApi.as_view(), name="coupon_validate"),
    path("coupons/redeem/", apis.RedeemApi.as_view(), name="coupon_redeem"),
]

# Under /dashboard/<shop_slug>/coupons/, in the "dashboard" namespace.
dashboard_patterns = [
    path("grants/", grant_views.GrantsView.as_view(), name="coupon_grants"),
    path("grants/<int:pk>/", grant_views.GrantView.as_view(), name="coupon_grant"),
    path("grants/members/<int:pk>/", grant_views.MemberGrantView.as_view(), name="coupon_grant_member"),
    path("lookup/", lookup_views.LookupView.as_view(), name="coupon_lookup"),
    path("", template_views.TemplateListView.as_view(), name="coupon_templates"),
    path("templates/new/", template_views.TemplateCreateView.as_view(), name="coupon_template_create"),
    path("templates/<int:pk>/", template_views.TemplateDetailView.as_view(), name="coupon_template"),
    path("templates/<int:pk>/edit/", template_views.TemplateEditView.as_view(), name="coupon_template_edit"),
    path("templates/<int:pk>/status/", template_views.TemplateStatusView.as_view(), name="coupon_template_status"),
    path("templates/<int:pk>/codes/new/", template_views.CodesGenerateView.as_view(), name="coupon_codes_generate"),
    path("templates/<int:pk>/codes/import/", template_views.CodesImportView.as_view(), name="coupon_codes_import"),
    path("templates/<int:pk>/codes.csv", template_views.CodesDownloadView.as_view(), name="coupon_codes_download"),
    path("tier-gifts/", template_views.TierGiftsView.as_view(), name="coupon_tier_gifts"),
    path("tier-gifts/<int:pk>/remove/", template_views.TierGiftRemoveView.as_view(), name="coupon_tier_gift_remove"),
    path("mall/", mall_views.MallView.as_view(), name="coupon_mall"),
    path("mall/gifts/new/", mall_views.GiftCreateView.as_view(), name="coupon_mall_gift_create"),
    path("mall/gifts/<int:pk>/", mall_views.GiftEditView.as_view(), name="coupon_mall_gift_edit"),
    path("mall/gifts/<int:pk>/active/", mall_views.GiftActiveView.as_view(), name="coupon_mall_gift_active"),
    path("mall/queue/", mall_views.MallQueueView.as_view(), name="coupon_mall_queue"),
    path("mall/exchanges/<int:pk>/ship/", mall_views.ExchangeShipView.as_view(), name="coupon_mall_ship"),
    path("mall/exchanges/<int:pk>/deliver/", mall_views.ExchangeDeliverView.as_view(), name="coupon_mall_deliver"),
    path("mall/exchanges/<int:pk>/cancel/", mall_views.ExchangeCancelView.as_view(), name="coupon_mall_cancel"),
]
