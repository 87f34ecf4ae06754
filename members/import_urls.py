"""The imports page, its error reports and the member export; under /dashboard/<shop_slug>/ in the "dashboard"
namespace."""

from django.urls import path

from .views import exports, imports

dashboard_patterns = [
    path("imports/", imports.ImportsView.as_view(), name="imports"),
    path("imports/<int:pk>/errors.csv", imports.ImportErrorsView.as_view(), name="import_errors"),
    path("members/export.csv", exports.MemberListExportView.as_view(), name="members_export"),
]
