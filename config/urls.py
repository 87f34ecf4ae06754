from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views import defaults, static
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from analytics import urls as analytics_urls
from analytics import urls_deep as analytics_deep_urls
from automations import urls as automation_urls
from campaigns import urls as campaign_urls
from coupons import urls as coupon_urls
from members import import_urls as member_import_urls
from members import urls as member_urls
from orders import urls as order_urls
from points import urls as points_urls
from portal import urls as portal_urls
from recruitment import urls as recruitment_urls
from shops import urls as shop_urls
from shops import views as shop_views
from shops.health import healthz
from shops.rest.errors import json_bad_request, json_not_found, json_server_error
from tiers import urls as tier_urls
from webhooks import urls as webhook_urls

dashboard_patterns = [
    path("", shop_views.DashboardEntryView.as_view(), name="entry"),
    path("<slug:shop_slug>/", include(shop_urls.dashboard_patterns)),
    path("<slug:shop_slug>/members/", include(member_urls.dashboard_patterns)),
    path("<slug:shop_slug>/orders/", include(order_urls.dashboard_patterns)),
    path("<slug:shop_slug>/points/", include(points_urls.dashboard_patterns)),
    path("<slug:shop_slug>/tiers/", include(tier_urls.dashboard_patterns)),
    path("<slug:shop_slug>/coupons/", include(coupon_urls.dashboard_patterns)),
    path("<slug:shop_slug>/recruitment/", include(recruitment_urls.dashboard_patterns)),
    path("<slug:shop_slug>/campaigns/", include(campaign_urls.dashboard_patterns)),
    path("<slug:shop_slug>/automations/", include(automation_urls.dashboard_patterns)),
    path("<slug:shop_slug>/analytics/", include(analytics_urls.dashboard_patterns)),
    path("<slug:shop_slug>/analytics/", include(analytics_deep_urls.deep_patterns)),
    path("<slug:shop_slug>/", include(member_import_urls.dashboard_patterns)),
    path("<slug:shop_slug>/webhooks/", include(webhook_urls.dashboard_patterns)),
]

api_patterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's set-up as a script of its own (docs/?script=) instead of an inline one, which
    # the Content-Security-Policy refuses.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/swagger_ui.html"),
        name="docs",
    ),
    *shop_urls.api_patterns,
    *member_urls.api_patterns,
    *order_urls.api_patterns,
    *points_urls.api_patterns,
    *tier_urls.api_patterns,
    *coupon_urls.api_patterns,
    *recruitment_urls.api_patterns,
    *campaign_urls.api_patterns,
    *automation_urls.api_patterns,
    *analytics_urls.api_patterns,
    *webhook_urls.api_patterns,
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:entry", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include(shop_urls.account_patterns)),
    path("dashboard/", include((dashboard_patterns, "dashboard"))),
    path("api/v1/", include((api_patterns, "api"))),
    path("", include(portal_urls)),
]
if settings.SERVE_MEDIA:
    # Uploaded logos from the local volume. At scale, point the default storage at object storage instead.
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", static.serve, {"document_root": settings.MEDIA_ROOT}))


def handler400(request, exception=None):
    if request.path.startswith("/api/"):
        return json_bad_request(request, exception)
    return defaults.bad_request(request, exception)


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return defaults.server_error(request)
