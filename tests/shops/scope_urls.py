"""A URL configuration for the scope tests: an API view that fails with an unexpected error, and a probe that
answers which scope a request starts with."""

from django.http import JsonResponse
from django.urls import path
from django_scopes import get_scope

from config.urls import urlpatterns as project_urlpatterns
from shops.rest.views import ShopAPIView


class BrokenApi(ShopAPIView):
    def get(self, request):
        raise RuntimeError("bug")


def scope_probe(request):
    scope = get_scope()
    return JsonResponse({"enabled": scope.get("_enabled", False), "shop": getattr(scope.get("shop"), "pk", None)})


urlpatterns = [
    path("api/v1/test/broken/", BrokenApi.as_view()),
    path("scope-probe/", scope_probe),
    *project_urlpatterns,
]
