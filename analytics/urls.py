from django.urls import path

from . import apis
from .views import ledgers, pages

# Under /api/v1/, in the "api" namespace.
api_patterns = [
    path("analytics/summary/", apis.AnalyticsSummaryApi.as_view(), name="analytics_summary"),
]

# Under /dashboard/<shop_slug>/analytics/, in the "dashboard" namespace; each page is an entry of views.TABS.
dashboard_patterns = [
    path("", pages.TrendsView.as_view(), name="analytics"),
    path("sales/", pages.SalesView.as_view(), name="analytics_sales"),
    path("members/", pages.MembersView.as_view(), name="analytics_members"),
    path("points/", ledgers.PointsView.as_view(), name="analytics_points"),
    path("coupons/", ledgers.CouponsView.as_view(), name="analytics_coupons"),
]
