from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from members.services import phone_normalize
from shops.errors import ApplicationError
from shops.rest.fields import AmountField
from shops.rest.hotpath import HotWriteView
from shops.rest.schema import CONFLICT
from shops.rest.serializers import Int64Field, StrictSerializer
from shops.rest.views import ShopAPIView

from . import selectors, services
from .models import OrderStatus

MONEY = {"max_digits": 12, "decimal_places": 2}


class ItemInput(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    unit_price = AmountField(**MONEY)


class OrderInput(StrictSerializer):
    external_id = serializers.CharField(max_length=64)
    member_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    amount = AmountField(**MONEY)
    paid_at = serializers.DateTimeField()
    status = serializers.ChoiceField(
        [OrderStatus.PAID, OrderStatus.COMPLETED, OrderStatus.CANCELLED], required=False, default=OrderStatus.PAID
    )
    items = ItemInput(many=True, required=False, default=list)

    class Meta:
        ref_name = "OrderInput"

    def validate_phone(self, value):
        return phone_normalize(value) if value else ""

    def validate(self, attrs):
        if attrs.get("member_id") and attrs.get("phone"):
            raise serializers.ValidationError("Give member_id or phone, not both.")
        return attrs

    def to_order(self) -> services.OrderInput:
        return _order_of(self.validated_data)


def _order_of(validated: dict) -> services.OrderInput:
    data = dict(validated)
    data["items"] = tuple(services.ItemInput(**item) for item in data.get("items", []))
    return services.OrderInput(**data)


# One long-lived OrderInput validates every order: DRF copies every declared field for each serializer it builds
# (about a millisecond of CPU per order), and a serializer's run_validation keeps no state between calls.
_ORDER = OrderInput()


def order_input_of(data) -> services.OrderInput:
    """One order of the API validated exactly as OrderInput(data=data).is_valid(raise_exception=True) validates it
    (the same values; the same ValidationError or InvalidPhoneError), and converted."""
    return _order_of(_ORDER.run_validation(data))


class ItemOutput(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(**MONEY)


class OrderOutput(serializers.Serializer):
    external_id = serializers.CharField()
    member_id = serializers.IntegerField(allow_null=True)
    amount = serializers.DecimalField(**MONEY)
    refunded_amount = serializers.DecimalField(**MONEY)
    status = serializers.CharField()
    paid_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    points_earned = Int64Field()
    items = ItemOutput(many=True, source="items.all")

    class Meta:
        ref_name = "Order"


_TIME = serializers.DateTimeField()


def recorded_order_body(order, items: tuple[services.ItemInput, ...]) -> dict:
    """OrderOutput's representation of an order just recorded (or replayed: the same body, so the same items),
    built directly from what was sent. The order API is the hottest write path: this skips the items query and
    DRF's field-by-field rendering. tests/orders/test_order_api.py holds it equal to OrderOutput."""
    return {
        "external_id": order.external_id,
        "member_id": order.member_id,
        "amount": f"{order.amount:.2f}",
        "refunded_amount": f"{order.refunded_amount:.2f}",
        "status": order.status,
        "paid_at": _TIME.to_representation(order.paid_at),
        "completed_at": _TIME.to_representation(order.completed_at) if order.completed_at else None,
        "points_earned": order.points_earned,
        "items": [
            {
                "sku": i.sku,
                "name": i.name,
                "category": i.category,
                "quantity": i.quantity,
                "unit_price": f"{i.unit_price:.2f}",
            }
            for i in items
        ],
    }


EXAMPLE = {
    "external_id": "TB20261123001",
    "phone": "13800138000",
    "amount": "268.00",
    "paid_at": "2026-11-23T10:15:00+08:00",
    "items": [{"sku": "MB-001", "name": "婴儿湿巾", "category": "母婴", "quantity": 2, "unit_price": "134.00"}],
}


def _messages(detail, path: str = "") -> list[str]:
    """DRF's nested error details as flat human text, e.g. "items.0.quantity: Ensure this value is ..."."""
    if isinstance(detail, dict):
        return [text for key, value in detail.items() for text in _messages(value, f"{path}{key}.")]
    if isinstance(detail, list):
        nested = any(isinstance(item, dict | list) for item in detail)
        return [text for i, item in enumerate(detail) for text in _messages(item, f"{path}{i}." if nested else path)]
    return [f"{path.rstrip('.')}: {detail}" if path else str(detail)]


def _parse_error(exc: ApplicationError | serializers.ValidationError) -> tuple[str, str]:
    if isinstance(exc, ApplicationError):
        return exc.code, str(exc.message)
    return "invalid", "; ".join(_messages(exc.detail))


def _external_id(row) -> str | None:
    value = row.get("external_id") if isinstance(row, dict) else None
    return None if value is None else str(value)


class OrderCreateApi(HotWriteView):
    @extend_schema(
        operation_id="orders_record",
        request=OrderInput,
        responses={201: OrderOutput, 200: OrderOutput, 409: CONFLICT},
        examples=[OpenApiExample("order", value=EXAMPLE, request_only=True)],
        tags=["orders"],
        description="201 when recorded; a replay of the same external_id returns 200 with the first result and "
        "records nothing; the same external_id with a different body is 409 order_conflict.",
    )
    def post(self, request):
        return self.answer(request)

    def write(self, request) -> tuple[dict, int]:
        data = order_input_of(request.data)
        recorded = services.order_record(shop=self.shop, data=data)
        return (
            recorded_order_body(recorded.order, data.items),
            status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK,
        )


NOT_AN_OBJECT = "An order is a JSON object."


class OrderBulkApi(ShopAPIView):
    class InputSerializer(StrictSerializer):
        # Rows are any JSON here and validated one by one below, so that a bad row (even one that is not an object)
        # is named in the report instead of refusing the batch.
        orders = serializers.ListField(child=serializers.JSONField(), max_length=services.MAX_BATCH, allow_empty=False)

    class DocumentedInput(StrictSerializer):
        """What the schema shows: the rows as they should be."""

        orders = OrderInput(many=True, allow_empty=False, max_length=services.MAX_BATCH)

        class Meta:
            ref_name = "OrderBulkInput"

    class OutputSerializer(serializers.Serializer):
        class ErrorSerializer(serializers.Serializer):
            index = serializers.IntegerField()
            external_id = serializers.CharField(allow_null=True)
            code = serializers.CharField()
            message = serializers.CharField()

            class Meta:
                ref_name = "OrderBulkError"

        created = serializers.IntegerField()
        duplicates = serializers.IntegerField()
        errors = ErrorSerializer(many=True)

        class Meta:
            ref_name = "OrderBulkResult"

    @extend_schema(
        operation_id="orders_record_bulk",
        request=DocumentedInput,
        responses=OutputSerializer,
        examples=[OpenApiExample("bulk", value={"orders": [EXAMPLE]}, request_only=True)],
        tags=["orders"],
        description="Up to 1,000 orders (more is refused whole with 400). Good orders are recorded; each bad one is "
        "named by its index with a code and message; replays of recorded orders are counted as duplicates.",
    )
    def post(self, request):
        envelope = self.InputSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        rows = envelope.validated_data["orders"]
        parsed, errors = {}, []
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                errors.append({"index": index, "external_id": None, "code": "invalid", "message": NOT_AN_OBJECT})
                continue
            try:
                parsed[index] = order_input_of(row)
            except (serializers.ValidationError, ApplicationError) as exc:
                code, message = _parse_error(exc)
                errors.append({"index": index, "external_id": _external_id(row), "code": code, "message": message})
        results = services.orders_record(shop=self.shop, orders=list(parsed.values())) if parsed else []
        created = duplicates = 0
        for index, result in zip(parsed, results, strict=True):
            if isinstance(result, ApplicationError):
                code, message = _parse_error(result)
                errors.append(
                    {"index": index, "external_id": parsed[index].external_id, "code": code, "message": message}
                )
            elif result.created:
                created += 1
            else:
                duplicates += 1
        errors.sort(key=lambda e: e["index"])
        return Response({"created": created, "duplicates": duplicates, "errors": errors})


class OrderDetailApi(ShopAPIView):
    class InputSerializer(StrictSerializer):
        status = serializers.ChoiceField(
            [OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.CANCELLED]
        )

        class Meta:
            ref_name = "OrderStatusChange"

    @extend_schema(operation_id="orders_retrieve", responses=OrderOutput, tags=["orders"])
    def get(self, request, external_id: str):
        return Response(OrderOutput(selectors.order_get_by_external_id(shop=self.shop, external_id=external_id)).data)

    @extend_schema(
        operation_id="orders_change_status",
        request=InputSerializer,
        responses={200: OrderOutput, 409: CONFLICT},
        tags=["orders"],
    )
    def patch(self, request, external_id: str):
        order = selectors.order_get_by_external_id(shop=self.shop, external_id=external_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_change_status(shop=self.shop, order=order, **serializer.validated_data)
        return Response(OrderOutput(order).data)


class RefundCreateApi(ShopAPIView):
    class InputSerializer(StrictSerializer):
        external_id = serializers.CharField(max_length=64)
        amount = AmountField(positive=True, **MONEY)
        refunded_at = serializers.DateTimeField(required=False)

        class Meta:
            ref_name = "RefundInput"

    class OutputSerializer(serializers.Serializer):
        external_id = serializers.CharField()
        order_external_id = serializers.CharField(source="order.external_id")
        amount = serializers.DecimalField(**MONEY)
        refunded_at = serializers.DateTimeField()
        order_status = serializers.CharField(source="order.status")
        order_refunded_amount = serializers.DecimalField(source="order.refunded_amount", **MONEY)

        class Meta:
            ref_name = "Refund"

    @extend_schema(
        operation_id="orders_refund",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, 409: CONFLICT},
        tags=["orders"],
        description="Idempotent by the refund's external_id: a replay returns 200 with the first refund. A refund "
        "above what is left to refund is 400 refund_exceeds_order.",
    )
    def post(self, request, external_id: str):
        order = selectors.order_get_by_external_id(shop=self.shop, external_id=external_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        recorded = services.refund_record(
            shop=self.shop, order=order, data=services.RefundInput(**serializer.validated_data)
        )
        return Response(
            self.OutputSerializer(recorded.refund).data,
            status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK,
        )
