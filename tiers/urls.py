from django.urls import path

from . import apis, views

api_patterns = [
    path("tiers/", apis.TierListApi.as_view(), name="tiers"),
]

# Under /dashboard/<shop_slug>/tiers/, in the "dashboard" namespace.
dashboard_patterns = [
    path("", views.TiersView.as_view(), name="tiers"),
    path("schedules/<int:pk>/cancel/", views.TierScheduleCancelView.as_view(), name="tier_schedule_cancel"),
    path("members/<int:pk>/", views.MemberTierView.as_view(), name="tier_member"),
    path("members/<int:pk>/assign/", views.TierAssignView.as_view(), name="tier_assign"),
]
