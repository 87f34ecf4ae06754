"""Analytics in the integration API (SPEC 10, second table)."""

import datetime

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from shops.rest.serializers import StrictSerializer
from shops.rest.views import ShopAPIView

from .selectors import summary

MAX_DAYS = 732  # two years and a day: longer periods are the backfill's business, not a page's


class Figures(serializers.Serializer):
    members_total = serializers.IntegerField()
    members_new = serializers.IntegerField()
    orders = serializers.IntegerField()
    sales = serializers.DecimalField(max_digits=16, decimal_places=2)
    member_orders = serializers.IntegerField()
    member_sales = serializers.DecimalField(max_digits=16, decimal_places=2)
    non_member_orders = serializers.IntegerField()
    non_member_sales = serializers.DecimalField(max_digits=16, decimal_places=2)
    member_share_of_sales = serializers.FloatField(allow_null=True, min_value=0, max_value=1)
    aov_member = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    aov_non_member = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    repeat_purchase_rate = serializers.FloatField(allow_null=True, min_value=0, max_value=1)
    points_issued = serializers.IntegerField()
    points_redeemed = serializers.IntegerField()
    points_expired = serializers.IntegerField()
    points_outstanding = serializers.IntegerField()
    points_liability = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    coupons_issued = serializers.IntegerField()
    coupons_redeemed = serializers.IntegerField()


class SummaryOutput(Figures):
    previous = Figures(help_text="The same figures for the period of the same length just before")


class PeriodInput(StrictSerializer):
    # "from" is a Python keyword: the field is declared under another name and renamed in get_fields.
    from_ = serializers.DateField(input_formats=["%Y-%m-%d"])
    to = serializers.DateField(input_formats=["%Y-%m-%d"])

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def validate(self, attrs):
        first, last = attrs["from"], attrs["to"]
        if last < first:
            raise serializers.ValidationError({"to": ["The period ends before it starts."]})
        if (last - first).days + 1 > MAX_DAYS:
            raise serializers.ValidationError({"to": [f"A period is at most {MAX_DAYS} days."]})
        if first < datetime.date(2000, 1, 1):
            raise serializers.ValidationError({"from": ["Give a date from 2000 on."]})
        return attrs


class AnalyticsSummaryApi(ShopAPIView):
    @extend_schema(
        operation_id="analytics_summary",
        parameters=[
            OpenApiParameter("from", type=datetime.date, required=True, description="First day (shop time zone)"),
            OpenApiParameter("to", type=datetime.date, required=True, description="Last day, included"),
        ],
        responses=SummaryOutput,
        tags=["analytics"],
        description="The headline figures of the period from the daily rollups: an order counts on its payment day "
        "unless cancelled or fully refunded, and its sales are its amount less its refunds. Money as decimal "
        "strings, rates between 0 and 1 (null when nothing to divide by). `previous` is the period of the same "
        "length just before.",
    )
    def get(self, request):
        period = PeriodInput(data=request.query_params)
        period.is_valid(raise_exception=True)
        data = summary(shop=self.shop, first=period.validated_data["from"], last=period.validated_data["to"])
        return Response(SummaryOutput(data).data)
