"""The deeper views' pages (SPEC 14), under /dashboard/<shop_slug>/analytics/ in the "dashboard" namespace."""

from django.urls import path

from .views import clv, deep

deep_patterns = [
    path("cohorts/", deep.CohortsView.as_view(), name="analytics_cohorts"),
    path("rfm/", deep.RfmView.as_view(), name="analytics_rfm"),
    path("rfm/segment/", deep.RfmSegmentView.as_view(), name="analytics_rfm_segment"),
    path("pairs/", deep.PairsView.as_view(), name="analytics_pairs"),
    path("intelligence/", clv.ClvView.as_view(), name="analytics_clv"),
    path("intelligence/segment/", clv.ClvSegmentView.as_view(), name="analytics_clv_segment"),
]
