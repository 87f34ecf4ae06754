from django.urls import path

from . import apis
from .views import grants as grant_views
from .views import lookup as lookup_views
from .views import mall as mall_views

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
    path("mall/", mall_views.MallView.as_view(), name="coupon_mall"),
    path("mall/gifts/new/", mall_views.GiftCreateView.as_view(), name="coupon_mall_gift_create"),
    path("mall/gifts/<int:pk>/", mall_views.GiftEditView.as_view(), name="coupon_mall_gift_edit"),
    path("mall/gifts/<int:pk>/active/", mall_views.GiftActiveView.as_view(), name="coupon_mall_gift_active"),
    path("mall/queue/", mall_views.MallQueueView.as_view(), name="coupon_mall_queue"),
    path("mall/exchanges/<int:pk>/ship/", mall_views.ExchangeShipView.as_view(), name="coupon_mall_ship"),
    path("mall/exchanges/<int:pk>/deliver/", mall_views.ExchangeDeliverView.as_view(), name="coupon_mall_deliver"),
    path("mall/exchanges/<int:pk>/cancel/", mall_views.ExchangeCancelView.as_view(), name="coupon_mall_cancel"),
]
