from django.urls import path

from . import apis
from .views import channels as channel_views
from .views import referrals as referral_views

# Under /api/v1/, in the "api" namespace.
api_patterns = [
    path("channels/", apis.ChannelListCreateApi.as_view(), name="channels"),
    path("channels/<int:pk>/", apis.ChannelDetailApi.as_view(), name="channel"),
    path("channels/<int:pk>/qr.svg", apis.ChannelQrSvgApi.as_view(), name="channel_qr_svg"),
    path("channels/<int:pk>/qr.png", apis.ChannelQrPngApi.as_view(), name="channel_qr_png"),
    path("channels/<int:pk>/poster.png", apis.ChannelPosterApi.as_view(), name="channel_poster"),
]

# Under /dashboard/<shop_slug>/recruitment/, in the "dashboard" namespace.
dashboard_patterns = [
    path("", channel_views.ChannelListView.as_view(), name="channels"),
    path("channels/new/", channel_views.ChannelCreateView.as_view(), name="channel_create"),
    path("channels/<int:pk>/", channel_views.ChannelDetailView.as_view(), name="channel"),
    path("channels/<int:pk>/edit/", channel_views.ChannelEditView.as_view(), name="channel_edit"),
    path("channels/<int:pk>/active/", channel_views.ChannelActiveView.as_view(), name="channel_active"),
    path("channels/<int:pk>/qr.svg", channel_views.ChannelQrSvgView.as_view(), name="channel_qr_svg"),
    path("channels/<int:pk>/qr.png", channel_views.ChannelQrPngView.as_view(), name="channel_qr_png"),
    path("channels/<int:pk>/poster.png", channel_views.ChannelPosterView.as_view(), name="channel_poster"),
    path("referrals/", referral_views.ReferralLeaderboardView.as_view(), name="referral_leaderboard"),
    path("referrals/settings/", referral_views.ReferralSettingsView.as_view(), name="referral_settings"),
]
