"""Webhooks and the events API in the integration API (SPEC 10 and 17).

API keys carry no role: only owners and admins can create them (Perm.APIKEYS_MANAGE), so a key manages the shop's
endpoints as they would, as it manages every other part of the shop."""

import uuid

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from events.types import EventType
from shops.ids import parse_int
from shops.rest.schema import CONFLICT
from shops.rest.serializers import StrictSerializer
from shops.rest.views import ShopAPIView

from . import selectors, services
from .models import DeliveryStatus

EVENTS_PAGE, EVENTS_PAGE_MAX = 100, 500


class EndpointOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    description = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField(), source="event_types")
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField()
    disabled_at = serializers.DateTimeField(allow_null=True)
    failing_since = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class EndpointSecretOutput(EndpointOutput):
    secret = serializers.CharField(help_text="whsec_…: shown once, here. Verify signatures with it.")


class EndpointInput(StrictSerializer):
    url = serializers.CharField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.values), min_length=1, max_length=len(EventType.values)
    )
    description = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    class Meta:
        ref_name = "WebhookEndpointCreate"


def _endpoint(request_view) -> object:
    return selectors.endpoint_get(shop=request_view.shop, pk=request_view.kwargs["pk"])


class WebhookListCreateApi(ShopAPIView, ListAPIView):
    serializer_class = EndpointOutput

    def get_queryset(self):
        return selectors.endpoint_list(shop=self.shop)

    @extend_schema(operation_id="webhooks_list", tags=["webhooks"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="webhooks_create",
        request=EndpointInput,
        responses={201: EndpointSecretOutput, 409: CONFLICT},
        tags=["webhooks"],
        description="Subscribe a URL (https) to event types. The answer holds the signing secret, shown only here.",
    )
    def post(self, request):
        serializer = EndpointInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        endpoint, secret = services.endpoint_create(
            shop=self.shop,
            actor=self.actor,
            url=data["url"],
            event_types=data["events"],
            description=data["description"],
        )
        return Response({**EndpointOutput(endpoint).data, "secret": secret}, status=status.HTTP_201_CREATED)


class WebhookDetailApi(ShopAPIView):
    @extend_schema(operation_id="webhooks_retrieve", responses=EndpointOutput, tags=["webhooks"])
    def get(self, request, pk: int):
        return Response(EndpointOutput(_endpoint(self)).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        responses={204: OpenApiResponse(description="Deleted: nothing more is sent to it.")},
        tags=["webhooks"],
    )
    def delete(self, request, pk: int):
        services.endpoint_delete(shop=self.shop, actor=self.actor, endpoint=_endpoint(self))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateApi(ShopAPIView):
    @extend_schema(
        operation_id="webhooks_rotate",
        request=None,
        responses=EndpointSecretOutput,
        tags=["webhooks"],
        description="A new secret, shown only here; the previous one keeps signing beside it for 24 hours.",
    )
    def post(self, request, pk: int):
        endpoint, secret = services.endpoint_rotate(shop=self.shop, actor=self.actor, endpoint=_endpoint(self))
        return Response({**EndpointOutput(endpoint).data, "secret": secret})


class AttemptOutput(serializers.Serializer):
    attempted_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    response_excerpt = serializers.CharField()
    duration_ms = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)


class DeliveryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.UUIDField(help_text="The webhook-id header of every attempt")
    event_type = serializers.CharField()
    sequence = serializers.IntegerField(source="event_seq")
    status = serializers.ChoiceField(choices=DeliveryStatus.values)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    log = AttemptOutput(many=True, help_text="Each attempt, oldest first (kept 30 days)")


class WebhookDeliveriesApi(ShopAPIView, ListAPIView):
    serializer_class = DeliveryOutput

    def get_queryset(self):
        return selectors.delivery_list(shop=self.shop, endpoint=_endpoint(self))

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        log = selectors.attempts_of(shop=self.shop, deliveries=page)
        for delivery in page:
            delivery.log = log[delivery.pk]
        return self.get_paginated_response(DeliveryOutput(page, many=True).data)

    @extend_schema(operation_id="webhooks_deliveries", tags=["webhooks"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class EventOutput(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    member_id = serializers.IntegerField(allow_null=True)
    sequence = serializers.IntegerField(source="seq")
    data = serializers.JSONField(source="payload")


class EventPageOutput(serializers.Serializer):
    results = EventOutput(many=True)
    next = serializers.CharField(allow_null=True, help_text="The next page's URL; null once you have caught up")


class EventsApi(ShopAPIView):
    pagination_class = None

    @extend_schema(
        operation_id="events_list",
        parameters=[
            OpenApiParameter(
                "after", type=str, description="The id of the last event you have (absent: from the start)"
            ),
            OpenApiParameter("type", enum=EventType.values, many=True, explode=False),
            OpenApiParameter(
                "limit",
                type={"type": "integer", "minimum": 1, "maximum": EVENTS_PAGE_MAX, "default": EVENTS_PAGE},
                description=f"Results per page, 1 to {EVENTS_PAGE_MAX} (default {EVENTS_PAGE}).",
            ),
        ],
        responses=EventPageOutput,
        tags=["events"],
        description="The shop's events of the last 30 days, oldest first, in the order of its stream, for "
        "reconciliation: page with `next` (or `after`) until it is null.",
    )
    def get(self, request):
        params = request.query_params
        errors = {}
        after_seq, types, limit = 0, [], EVENTS_PAGE
        if after := params.get("after"):
            try:
                after_seq = selectors.event_by_id(shop=self.shop, pk=uuid.UUID(after)).seq
            except (ValueError, selectors.Event.DoesNotExist):
                errors["after"] = [_("No event of the last 30 days has this id.")]
        if kinds := params.get("type"):
            types = kinds.split(",")
            if set(types) - set(EventType.values):
                errors["type"] = [_("Use event types from the catalogue, separated by commas.")]
        if (text := params.get("limit")) is not None:
            limit = parse_int(text, minimum=1, maximum=EVENTS_PAGE_MAX)
            if limit is None:
                errors["limit"] = [_("Give a whole number from 1 to %(max)d.") % {"max": EVENTS_PAGE_MAX}]
        if errors:
            raise serializers.ValidationError(errors)
        rows = selectors.events_list(shop=self.shop, after_seq=after_seq, types=types, limit=limit)
        following = None
        if len(rows) == limit:
            query = params.copy()
            query["after"] = str(rows[-1].pk)
            following = request.build_absolute_uri(request.path + "?" + query.urlencode())
        return Response({"results": EventOutput(rows, many=True).data, "next": following})
