"""A URL configuration for the API plumbing tests: views that fail in each way an API view can, and a list."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import include, path
from rest_framework import serializers
from rest_framework.generics import ListAPIView

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as project_urlpatterns
from shops.errors import Conflict
from shops.models import ApiKey
from shops.rest.views import ShopAPIView
from shops.selectors import audit_list


class Input(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    phone = serializers.CharField()


class ValidateApi(ShopAPIView):
    def post(self, request):
        Input(data=request.data).is_valid(raise_exception=True)


class ConflictApi(ShopAPIView):
    def post(self, request):
        raise Conflict("Already redeemed.", code="already_redeemed", details={"coupon": "X"})


class DjangoValidationApi(ShopAPIView):
    def post(self, request):
        raise DjangoValidationError({"slug": ["Taken."]})


class MissingApi(ShopAPIView):
    def get(self, request):
        return ApiKey.objects.get(shop=self.shop, pk=0)


class AuditListApi(ShopAPIView, ListAPIView):
    """A cursor-paginated list, as every list endpoint of the API is."""

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        action = serializers.CharField()

    serializer_class = OutputSerializer

    def get_queryset(self):
        return audit_list(shop=self.shop)


class BrokenApi(ShopAPIView):
    def get(self, request):
        raise RuntimeError("bug")


urlpatterns = [
    path(
        "api/v1/test/",
        include(
            [
                path("validate/", ValidateApi.as_view()),
                path("conflict/", ConflictApi.as_view()),
                path("django-validation/", DjangoValidationApi.as_view()),
                path("missing/", MissingApi.as_view()),
                path("broken/", BrokenApi.as_view()),
                path("audit/", AuditListApi.as_view()),
            ]
        ),
    ),
    *project_urlpatterns,
]
