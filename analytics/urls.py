from django.urls import path

from . import apis

# Under /api/v1/, in the "api" namespace.
api_patterns = [
    path("analytics/summary/", apis.AnalyticsSummaryApi.as_view(), name="analytics_summary"),
]
