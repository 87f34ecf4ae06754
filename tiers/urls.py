from django.urls import path

from . import apis

api_patterns = [
    path("tiers/", apis.TierListApi.as_view(), name="tiers"),
]

