from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from shops.rest.views import ShopAPIView


class ShopDetailApi(ShopAPIView):
    """The shop the API key belongs to: a quick way for an integration to check its key."""

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        slug = serializers.CharField()
        currency = serializers.CharField()
        time_zone = serializers.CharField()
        locale = serializers.CharField()
        colour = serializers.CharField()

        class Meta:
            ref_name = "Shop"  # nested Output serializers of different views would otherwise share one name

    @extend_schema(operation_id="shop_retrieve", responses=OutputSerializer, tags=["shop"])
    def get(self, request):
        return Response(self.OutputSerializer(self.shop).data)
