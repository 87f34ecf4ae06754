from django.urls import path

from . import apis, views

api_patterns = [
    path("members/<int:pk>/points/", apis.MemberPointsApi.as_view(), name="member_points"),
    path("members/<int:pk>/points/redeem/", apis.RedeemApi.as_view(), name="member_points_redeem"),
    path("members/<int:pk>/points/adjust/", apis.AdjustApi.as_view(), name="member_points_adjust"),
]

# Under /dashboard/<shop_slug>/points/, in the "dashboard" namespace.
dashboard_patterns = [
    path("", views.PointsRulesView.as_view(), name="points_rules"),
    path("bonus-rules/new/", views.BonusRuleCreateView.as_view(), name="points_bonus_create"),
    path("bonus-rules/<int:pk>/", views.BonusRuleEditView.as_view(), name="points_bonus_edit"),
    path("bonus-rules/<int:pk>/delete/", views.BonusRuleDeleteView.as_view(), name="points_bonus_delete"),
    path("bonus-rules/<int:pk>/active/", views.BonusRuleActiveView.as_view(), name="points_bonus_active"),
    path("members/<int:pk>/", views.PointsLedgerView.as_view(), name="points_ledger"),
    path("members/<int:pk>/adjust/", views.PointsAdjustView.as_view(), name="points_adjust"),
]
