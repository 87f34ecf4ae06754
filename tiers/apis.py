from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from shops.rest.serializers import Int64Field
from shops.rest.views import ShopAPIView

from .selectors import tiers_of_shop


class TierOutput(serializers.Serializer):
    class QualificationSerializer(serializers.Serializer):
        min_spend = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
        min_orders = serializers.IntegerField(allow_null=True)
        min_growth = Int64Field(allow_null=True)
        combine = serializers.CharField()
        window = serializers.CharField()
        retention_months = serializers.IntegerField()

        class Meta:
            ref_name = "TierQualification"

    class BenefitsSerializer(serializers.Serializer):
        discount_rate = serializers.DecimalField(max_digits=4, decimal_places=3)
        points_multiplier = serializers.DecimalField(max_digits=4, decimal_places=2)
        free_shipping = serializers.BooleanField()
        priority_shipping = serializers.BooleanField()
        dedicated_service = serializers.BooleanField()

        class Meta:
            ref_name = "TierBenefits"

    id = serializers.IntegerField()
    name = serializers.CharField()
    rank = serializers.IntegerField()
    description = serializers.CharField()
    qualification = QualificationSerializer(source="*")
    benefits = BenefitsSerializer(source="*")

    class Meta:
        ref_name = "Tier"


class TierListApi(ShopAPIView):
    @extend_schema(
        operation_id="tiers_list",
        responses=TierOutput(many=True),
        tags=["tiers"],
        description="The shop's tiers from the joining tier (rank 0) up, with how each is reached and kept and its "
        "benefits.",
    )
    def get(self, request):
        return Response(TierOutput(tiers_of_shop(shop=self.shop), many=True).data)
