# The shopper pages, at the site root: /c/<token> (a campaign message's tracked link), /j/<code>/ (a channel),
# /r/<code>/ (a referral link), /m/<shop_slug>/...
from django.urls import path

from .views import centre, join, links, survey

app_name = "portal"
urlpatterns = [
    path("c/<str:token>", links.campaign_link, name="campaign_link"),
    path("c/<str:token>/unsubscribe/", links.campaign_unsubscribe, name="campaign_unsubscribe"),
    path("j/<str:code>/", join.channel_page, name="channel"),
    path("r/<str:code>/", join.referral_page, name="referral"),
    path("m/<slug:shop_slug>/", join.home, name="home"),
    path("m/<slug:shop_slug>/code/", join.send_code, name="code"),
    path("m/<slug:shop_slug>/join/", join.join, name="join"),
    path("m/<slug:shop_slug>/login/", join.login, name="login"),
    path("m/<slug:shop_slug>/logout/", join.logout, name="logout"),
    path("m/<slug:shop_slug>/survey/<str:token>/", survey.survey, name="survey"),
    path("m/<slug:shop_slug>/me/", centre.centre, name="centre"),
    path("m/<slug:shop_slug>/me/coupons/", centre.wallet, name="wallet"),
    path("m/<slug:shop_slug>/me/coupons/claim/", centre.claim, name="claim"),
    path("m/<slug:shop_slug>/me/mall/", centre.mall, name="mall"),
    path("m/<slug:shop_slug>/me/mall/exchange/", centre.exchange, name="exchange"),
    path("m/<slug:shop_slug>/me/inbox/", centre.inbox, name="inbox"),
    path("m/<slug:shop_slug>/me/invite/", centre.invite, name="invite"),
    path("m/<slug:shop_slug>/me/profile/", centre.profile, name="profile"),
    path("m/<slug:shop_slug>/me/privacy/", centre.privacy, name="privacy"),
    path("m/<slug:shop_slug>/me/privacy/export/", centre.export, name="export"),
    path("m/<slug:shop_slug>/me/privacy/erase/", centre.erase, name="erase"),
]
