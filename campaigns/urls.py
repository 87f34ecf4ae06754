from django.urls import path

from . import apis

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
dashboard_patterns: list = []
