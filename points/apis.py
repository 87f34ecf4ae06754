from django.core.validators import RegexValidator
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from members.models import MAX_POINTS
from members.selectors import member_get_live
from shops.rest.fields import AmountField
from shops.rest.schema import CONFLICT
from shops.rest.serializers import Int64Field, StrictSerializer
from shops.rest.views import ShopAPIView

from . import selectors, services

# Client keys never contain "#": the system's own keys (points.order_effects) do, so the two cannot collide.
IDEMPOTENCY_KEY = serializers.CharField(
    max_length=100,
    validators=[RegexValidator(r"^[A-Za-z0-9._:\-]+$", "Use letters, digits and . _ : - only.")],
    help_text="Unique per shop for this operation: a retry with the same key returns the first result.",
)


class EntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    points = Int64Field()
    reason = serializers.CharField()
    order_external_id = serializers.CharField()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "PointsEntry"


class PostedOutput(serializers.Serializer):
    entry = EntryOutput()
    points_balance = Int64Field()
    cash_value = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)

    class Meta:
        ref_name = "PointsPosted"


def _posted(posted, *, member) -> Response:
    member.refresh_from_db(fields=["points_balance"])
    body = {
        "entry": posted.entry,
        "points_balance": member.points_balance,
        "cash_value": posted.entry.details.get("cash_value"),
    }
    return Response(PostedOutput(body).data, status=status.HTTP_201_CREATED if posted.created else status.HTTP_200_OK)


class MemberPointsApi(ShopAPIView):
    class OutputSerializer(serializers.Serializer):
        class ExpiringSerializer(serializers.Serializer):
            points = Int64Field()
            expires_at = serializers.DateTimeField()

            class Meta:
                ref_name = "PointsExpiring"

        points_balance = Int64Field()
        points_pending = Int64Field()
        expiring_soon = ExpiringSerializer(many=True)
        entries = EntryOutput(many=True)

        class Meta:
            ref_name = "MemberPoints"

    @extend_schema(
        operation_id="member_points",
        responses=OutputSerializer,
        tags=["points"],
        description="Balance, pending points, the points expiring within the shop's reminder period (by expiry "
        "time) and the 20 latest ledger entries.",
    )
    def get(self, request, pk: int):
        member = member_get_live(shop=self.shop, pk=pk)
        summary = selectors.points_summary(shop=self.shop, member=member, now=timezone.now())
        return Response(self.OutputSerializer(summary).data)


class RedeemApi(ShopAPIView):
    class InputSerializer(StrictSerializer):
        points = serializers.IntegerField(min_value=1, max_value=MAX_POINTS)
        idempotency_key = IDEMPOTENCY_KEY
        order_external_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
        order_amount = AmountField(
            max_digits=12,
            decimal_places=2,
            required=False,
            help_text="With points as cash: the order's amount, to check the minimum and the cap and price the points.",
        )
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True)

        class Meta:
            ref_name = "PointsRedeem"

    @extend_schema(
        operation_id="member_points_redeem",
        request=InputSerializer,
        responses={201: PostedOutput, 200: PostedOutput, 409: CONFLICT},
        examples=[OpenApiExample("redeem", value={"points": 500, "idempotency_key": "pos-7781"}, request_only=True)],
        tags=["points"],
        description="Spend available points (never pending ones), the soonest to expire first. With order_amount, "
        "the points pay part of an order as the shop's points-as-cash settings say (cash_value). 409 "
        "insufficient_points; a retry with the same idempotency_key returns 200 with the first result.",
    )
    def post(self, request, pk: int):
        member = member_get_live(shop=self.shop, pk=pk)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        posted = services.points_redeem(
            shop=self.shop,
            member=member,
            points=data["points"],
            idempotency_key=data["idempotency_key"],
            reason=data.get("reason", ""),
            order_external_id=data.get("order_external_id", ""),
            order_amount=data.get("order_amount"),
            actor=self.actor,
        )
        return _posted(posted, member=member)


class AdjustApi(ShopAPIView):
    class InputSerializer(StrictSerializer):
        points = serializers.IntegerField(min_value=-MAX_POINTS, max_value=MAX_POINTS, help_text="Signed, not 0.")
        reason = serializers.CharField(max_length=200)
        idempotency_key = IDEMPOTENCY_KEY

        class Meta:
            ref_name = "PointsAdjust"

    @extend_schema(
        operation_id="member_points_adjust",
        request=InputSerializer,
        responses={201: PostedOutput, 200: PostedOutput, 409: CONFLICT},
        examples=[
            OpenApiExample(
                "adjust",
                value={"points": -120, "reason": "重复积分更正", "idempotency_key": "fix-3"},
                request_only=True,
            )
        ],
        tags=["points"],
        description="A correction with a reason: positive points are credited (expiring as the shop's rules say), "
        "negative ones taken like a redemption (409 insufficient_points). Audited.",
    )
    def post(self, request, pk: int):
        member = member_get_live(shop=self.shop, pk=pk)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        posted = services.points_adjust(
            shop=self.shop,
            member=member,
            points=data["points"],
            reason=data["reason"],
            idempotency_key=data["idempotency_key"],
            actor=self.actor,
        )
        return _posted(posted, member=member)
