from django.urls import path

from .views import grants as grant_views
from .views import lookup as lookup_views

# Under /api/v1/, in the "api" namespace.
api_patterns = []

# Under /dashboard/<shop_slug>/coupons/, in the "dashboard" namespace.
dashboard_patterns = [
    path("grants/", grant_views.GrantsView.as_view(), name="coupon_grants"),
    path("grants/<int:pk>/", grant_views.GrantView.as_view(), name="coupon_grant"),
    path("grants/members/<int:pk>/", grant_views.MemberGrantView.as_view(), name="coupon_grant_member"),
    path("lookup/", lookup_views.LookupView.as_view(), name="coupon_lookup"),
]
