from django.urls import path

from . import apis
from .views import campaigns as views
from .views import settings as settings_views

# Under /api/v1/, in the "api" namespace.
api_patterns = [
    path("campaigns/", apis.CampaignListCreateApi.as_view(), name="campaigns"),
    path("campaigns/<int:pk>/", apis.CampaignDetailApi.as_view(), name="campaign"),
    path("campaigns/<int:pk>/send/", apis.CampaignSendApi.as_view(), name="campaign_send"),
    path("campaigns/<int:pk>/pause/", apis.CampaignPauseApi.as_view(), name="campaign_pause"),
    path("campaigns/<int:pk>/resume/", apis.CampaignResumeApi.as_view(), name="campaign_resume"),
    path("campaigns/<int:pk>/cancel/", apis.CampaignCancelApi.as_view(), name="campaign_cancel"),
    path("campaigns/<int:pk>/messages/", apis.CampaignMessagesApi.as_view(), name="campaign_messages"),
    path("messaging/receipts/http/", apis.ReceiptsHttpApi.as_view(), name="messaging_receipts_http"),
]

# Under /dashboard/<shop_slug>/campaigns/, in the "dashboard" namespace.
dashboard_patterns = [
    path("", views.CampaignListView.as_view(), name="campaigns"),
    path("new/", views.CampaignCreateView.as_view(), name="campaign_create"),
    path("preview/", views.CampaignPreviewView.as_view(), name="campaign_preview"),
    path("settings/", settings_views.MessagingSettingsView.as_view(), name="messaging_settings"),
    path("<int:pk>/", views.CampaignDetailView.as_view(), name="campaign"),
    path("<int:pk>/edit/", views.CampaignEditView.as_view(), name="campaign_edit"),
    path("<int:pk>/action/", views.CampaignActionView.as_view(), name="campaign_action"),
    path("<int:pk>/test-send/", views.CampaignTestSendView.as_view(), name="campaign_test_send"),
]
