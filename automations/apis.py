"""Automations in the integration API (SPEC 10, 13): a read-only list with each automation's results. Merchants
configure them on the dashboard."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from shops.rest.views import ShopAPIView

from . import selectors
from .reports import automation_report


class AutomationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    trigger = serializers.CharField()
    days = serializers.IntegerField()
    order_stage = serializers.CharField()
    enabled = serializers.BooleanField()
    reentry = serializers.CharField()
    reentry_days = serializers.IntegerField()
    holdout_percent = serializers.IntegerField()
    attribution_days = serializers.IntegerField()
    results = serializers.JSONField(
        help_text="Of the last 90 days' entries: journeys by status, messages by outcome, treated and holdout "
        "(members, converted, conversion_rate, orders, sales, revenue_per_member) and the differences' 95% "
        "intervals (conversion, revenue_per_member)"
    )


class AutomationListApi(ShopAPIView):
    @extend_schema(operation_id="automations_list", responses=AutomationOutput(many=True), tags=["automations"])
    def get(self, request):
        rows = []
        for automation in selectors.automation_list(shop=self.shop):
            report = automation_report(shop=self.shop, automation=automation)
            results = {key: report[key] for key in ("journeys", "messages", "treated", "holdout", "conversion")}
            results["revenue_per_member"] = report["revenue_per_member"]
            fields = {name: getattr(automation, name) for name in AutomationOutput().fields if name != "results"}
            rows.append({**fields, "results": results})
        return Response(rows)
