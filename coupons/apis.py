"""The coupon rows of the integration API (SPEC 10): templates, issuing to a member, a member's coupons, and
validating and redeeming a code against an order. Parsing and rendering only: coupons.services, coupons.issuance
and coupons.redemption check the rules and raise the errors the API renders."""

import datetime
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from members.models import MAX_POINTS
from members.segments import segment_get
from members.selectors import member_get_live, member_get_live_status
from shops.rest.fields import AmountField
from shops.rest.hotpath import HotWriteView
from shops.rest.schema import CONFLICT, error_response
from shops.rest.serializers import MULTILINE, Int64Field, StrictSerializer, validated
from shops.rest.views import ShopAPIView
from shops.time import shop_zone

from . import selectors
from .codes import IMPORTED_CODE, code_display, code_normalize
from .errors import NotIssuable
from .issuance import coupon_issue
from .models import (
    Audience,
    Coupon,
    CouponKind,
    CouponStatus,
    CouponTemplate,
    RefundPolicy,
    Scope,
    Source,
    TemplateStatus,
    UseChannel,
)
from .redemption import coupon_redeem, coupon_validate
from .rules import Cart, CartItem
from .services import template_create

MONEY = {"max_digits": 12, "decimal_places": 2}
MAX_DAYS = 3650
MAX_STOCK = 10**9
MAX_LIMIT = 1000
MAX_ID = 2**63 - 1
MAX_ITEMS = 1000
# Dates a coupon's windows may take: earlier or later ones are typing mistakes (and before 1901 time zones render
# as local mean time, which is not RFC 3339).
EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
LATEST = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)
ISSUE_SOURCES = [Source.CLAIM, Source.GRANT, Source.COMPENSATION]

# Client keys never contain "#": the system's own keys (gifts, grants, generated codes) do, so they cannot collide.
IDEMPOTENCY_KEY = serializers.CharField(
    max_length=100,
    validators=[RegexValidator(r"^[A-Za-z0-9._:\-]+$", _("Use letters, digits and . _ : - only."))],
    help_text="Unique per shop for this operation: a retry with the same key returns the first result.",
)


def _money(**extra):
    return AmountField(**MONEY, **extra)


class WindowDateTimeField(serializers.DateTimeField):
    """A date and time with an offset (without one: in the shop's time zone), between 2000 and 2100."""

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not EARLIEST <= moment < LATEST:
            raise serializers.ValidationError(_("Give a date between the years 2000 and 2099."))
        return moment


@extend_schema_field({"type": "string", "pattern": "^[A-Za-z0-9 \\-]{4,64}$", "example": "7F3A-9C2E-41B8-D05A"})
class CodeField(serializers.CharField):
    """A coupon code as typed: any case, spaces and hyphens ignored. Becomes the stored form."""

    def __init__(self, **kwargs):
        super().__init__(max_length=64, **kwargs)

    def to_internal_value(self, data):
        code = code_normalize(super().to_internal_value(data))
        if not IMPORTED_CODE.match(code):
            raise serializers.ValidationError(_("A coupon code is 4 to 32 letters and digits."))
        return code


# --- Templates ---------------------------------------------------------------------------------------------------


class TemplateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.ChoiceField(CouponKind.choices)
    value = serializers.DecimalField(**MONEY)
    min_spend = serializers.DecimalField(allow_null=True, **MONEY)
    max_discount = serializers.DecimalField(allow_null=True, **MONEY)
    item_sku = serializers.CharField()
    item_name = serializers.CharField()
    scope = serializers.ChoiceField(Scope.choices)
    scope_values = serializers.ListField(child=serializers.CharField())
    audience = serializers.ChoiceField(Audience.choices)
    audience_tiers = serializers.ListField(child=serializers.IntegerField())
    audience_tags = serializers.ListField(child=serializers.IntegerField())
    audience_segment = serializers.IntegerField(source="audience_segment_id", allow_null=True)
    new_member_days = serializers.IntegerField()
    claim_starts_at = serializers.DateTimeField(allow_null=True)
    claim_ends_at = serializers.DateTimeField(allow_null=True)
    valid_days = serializers.IntegerField(allow_null=True)
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    stock = serializers.IntegerField(allow_null=True, help_text="null: unlimited.")
    per_member_limit = serializers.IntegerField()
    stackable = serializers.BooleanField()
    points_price = Int64Field(allow_null=True)
    use_channel = serializers.ChoiceField(UseChannel.choices)
    on_refund = serializers.ChoiceField(RefundPolicy.choices)
    status = serializers.ChoiceField(TemplateStatus.choices)
    issued = serializers.IntegerField(help_text="Coupons made from the template (members' and bearer codes).")
    claimed = serializers.IntegerField(help_text="Coupons held by members.")
    redeemed = serializers.IntegerField(help_text="Coupons used on orders that stand (not refunded).")
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "CouponTemplate"


TEMPLATE_EXAMPLE = {
    "name": "满100减20",
    "kind": "amount_off",
    "value": "20.00",
    "min_spend": "100.00",
    "stock": 1000,
    "per_member_limit": 1,
    "valid_days": 30,
}


class TemplateListCreateApi(ShopAPIView, ListAPIView):
    """List the shop's coupon templates with their figures, or create one."""

    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=60)
        description = serializers.CharField(max_length=200, required=False, allow_blank=True, style=MULTILINE)
        kind = serializers.ChoiceField(CouponKind.choices)
        value = _money(
            required=False,
            help_text="amount_off / no_threshold: the amount taken off; percent_off: the percentage taken off (20 "
            "means 20% off); free_shipping: the most it covers (0: all of it); gift / exchange: the item's value.",
        )
        min_spend = _money(required=False, allow_null=True)
        max_discount = _money(required=False, allow_null=True, help_text="percent_off only: the cap.")
        item_sku = serializers.CharField(max_length=64, required=False, allow_blank=True)
        item_name = serializers.CharField(max_length=60, required=False, allow_blank=True)
        scope = serializers.ChoiceField(Scope.choices, required=False)
        scope_values = serializers.ListField(
            child=serializers.CharField(max_length=64),
            max_length=500,
            required=False,
            help_text="The categories or SKUs a scoped coupon applies to.",
        )
        audience = serializers.ChoiceField(Audience.choices, required=False)
        audience_tiers = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=100, required=False
        )
        audience_tags = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=100, required=False
        )
        audience_segment = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
        new_member_days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, required=False)
        claim_starts_at = WindowDateTimeField(required=False, allow_null=True)
        claim_ends_at = WindowDateTimeField(required=False, allow_null=True)
        valid_days = serializers.IntegerField(
            min_value=1,
            max_value=MAX_DAYS,
            required=False,
            allow_null=True,
            help_text="Usable for this many days counting the day of issue, to midnight in the shop's time zone.",
        )
        valid_from = WindowDateTimeField(required=False, allow_null=True)
        valid_until = WindowDateTimeField(required=False, allow_null=True)
        stock = serializers.IntegerField(
            min_value=1, max_value=MAX_STOCK, required=False, allow_null=True, help_text="Absent or null: unlimited."
        )
        per_member_limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False)
        stackable = serializers.BooleanField(required=False)
        points_price = serializers.IntegerField(min_value=1, max_value=MAX_POINTS, required=False, allow_null=True)
        use_channel = serializers.ChoiceField(UseChannel.choices, required=False)
        on_refund = serializers.ChoiceField(RefundPolicy.choices, required=False)

        class Meta:
            ref_name = "CouponTemplateCreate"

        def validate_audience_segment(self, value):
            if value is None:
                return None
            try:
                return segment_get(shop=self.context["shop"], pk=value)
            except ObjectDoesNotExist:
                raise serializers.ValidationError(_("No such segment in this shop.")) from None

    serializer_class = TemplateOutput

    def get_queryset(self):
        wanted = self.request.query_params.get("status", "")
        if wanted and wanted not in TemplateStatus.values:
            raise serializers.ValidationError({"status": [_("Use active, paused or ended.")]})
        return selectors.templates_with_figures(shop=self.shop, status=wanted)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        with timezone.override(shop_zone(self.shop)):
            return self.get_paginated_response(TemplateOutput(page, many=True).data)

    @extend_schema(
        operation_id="coupon_templates_list",
        parameters=[
            OpenApiParameter("status", enum=TemplateStatus.values, description="Only templates of this status")
        ],
        tags=["coupons"],
        description="The shop's coupon templates, newest first, each with its figures: issued, claimed (held by "
        "members) and redeemed (used on orders not refunded).",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="coupon_templates_create",
        request=InputSerializer,
        responses={201: TemplateOutput},
        examples=[
            OpenApiExample("amount off", value=TEMPLATE_EXAMPLE, request_only=True),
            OpenApiExample(
                "percent off for gold members",
                value={
                    "name": "金卡8折",
                    "kind": "percent_off",
                    "value": "20",
                    "max_discount": "50.00",
                    "audience": "tiers",
                    "audience_tiers": [3],
                    "valid_from": "2026-12-01T00:00:00+08:00",
                    "valid_until": "2027-01-01T00:00:00+08:00",
                },
                request_only=True,
            ),
        ],
        tags=["coupons"],
        description="Create a template. Give the use window as valid_days, or as valid_until (and valid_from). "
        "Times without an offset are in the shop's time zone. A field that does not fit the others is 400 "
        "invalid_template, its details naming each field with what is wrong.",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data, context={"shop": self.shop})
        with timezone.override(shop_zone(self.shop)):
            serializer.is_valid(raise_exception=True)
            template = template_create(shop=self.shop, actor=self.actor, data=dict(serializer.validated_data))
            figures = selectors.templates_with_figures(shop=self.shop).get(pk=template.pk)
            return Response(TemplateOutput(figures).data, status=status.HTTP_201_CREATED)


class TemplateDetailApi(ShopAPIView):
    @extend_schema(operation_id="coupon_templates_retrieve", responses=TemplateOutput, tags=["coupons"])
    def get(self, request, pk: int):
        template = selectors.templates_with_figures(shop=self.shop).get(pk=pk)
        with timezone.override(shop_zone(self.shop)):
            return Response(TemplateOutput(template).data)


# --- A member's coupons ------------------------------------------------------------------------------------------


class CouponOutput(serializers.Serializer):
    class TemplateRef(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        kind = serializers.ChoiceField(CouponKind.choices)

        class Meta:
            ref_name = "CouponTemplateRef"

    id = serializers.IntegerField()
    code = serializers.CharField()
    code_display = serializers.SerializerMethodField()
    template = TemplateRef()
    status = serializers.ChoiceField(CouponStatus.choices)
    source = serializers.ChoiceField(Source.choices)
    issued_at = serializers.DateTimeField()
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Coupon"

    def get_code_display(self, coupon) -> str:
        return code_display(coupon.code)


_TIME = serializers.DateTimeField()


def issued_coupon_body(coupon: Coupon) -> dict:
    """CouponOutput's representation of a coupon just issued (or replayed), built directly: claims are a hot write
    path and DRF's field-by-field rendering cost as much as the issue. Times as CouponOutput renders them, in the
    current time zone. tests/coupons/test_coupon_api.py holds it equal to CouponOutput."""
    template = coupon.template  # a new coupon's is the template as locked for the issue; a replay's is read
    return {
        "id": coupon.pk,
        "code": coupon.code,
        "code_display": code_display(coupon.code),
        "template": {"id": template.pk, "name": template.name, "kind": template.kind},
        "status": coupon.status,
        "source": coupon.source,
        "issued_at": _TIME.to_representation(coupon.issued_at),
        "valid_from": _TIME.to_representation(coupon.valid_from),
        "valid_until": _TIME.to_representation(coupon.valid_until),
    }


class MemberCouponsApi(HotWriteView, ListAPIView):
    """Issue a coupon to a member, or list the member's coupons."""

    class InputSerializer(StrictSerializer):
        template_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        idempotency_key = IDEMPOTENCY_KEY
        source = serializers.ChoiceField(
            ISSUE_SOURCES,
            default=Source.CLAIM,
            help_text="claim: the member claims it (the claim window and the per-member limit apply); grant: "
            "staff give it (the limit applies); compensation: a make-good (neither applies).",
        )

        class Meta:
            ref_name = "CouponIssue"

    serializer_class = CouponOutput

    def get_queryset(self):
        member = member_get_live(shop=self.shop, pk=self.kwargs["pk"])
        wanted = self.request.query_params.get("status", "")
        if wanted and wanted not in CouponStatus.values:
            raise serializers.ValidationError({"status": [_("Use available, redeemed, expired or void.")]})
        return selectors.member_coupons(shop=self.shop, member=member, status=wanted)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        with timezone.override(shop_zone(self.shop)):
            return self.get_paginated_response(CouponOutput(page, many=True).data)

    @extend_schema(
        operation_id="member_coupons_list",
        parameters=[
            OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The member's id"),
            OpenApiParameter("status", enum=CouponStatus.values, description="Only coupons of this status"),
        ],
        tags=["coupons"],
        description="The member's coupons, newest first.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="member_coupons_issue",
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The member's id")],
        request=InputSerializer,
        responses={201: CouponOutput, 200: CouponOutput, 409: CONFLICT},
        examples=[
            OpenApiExample("claim", value={"template_id": 12, "idempotency_key": "claim-7781"}, request_only=True)
        ],
        tags=["coupons"],
        description="Issue one coupon of the template to the member: 201 with the coupon; a retry with the same "
        "idempotency_key returns 200 with the first coupon. 409 out_of_stock, limit_reached, not_issuable "
        "(details.reason: template_inactive, claim_not_started, claim_ended, use_window_over, member_not_active, "
        "outside_audience) or idempotency_conflict (the key was used for another template or member). An unknown "
        "template is 404.",
    )
    def post(self, request, pk: int):
        return self.answer(request, pk=pk)

    def write(self, request, pk: int) -> tuple[dict, int]:
        member = member_get_live_status(shop=self.shop, pk=pk)
        data = validated(_ISSUE_INPUT, request.data)
        # Not read here: coupon_issue locks and reads the template first (another shop's or an unknown one raises
        # CouponTemplate.DoesNotExist there, a 404), and a claim would read the same row twice.
        template = CouponTemplate(pk=data["template_id"], shop=self.shop)
        try:
            issued = coupon_issue(
                shop=self.shop,
                member=member,
                template=template,
                idempotency_key=data["idempotency_key"],
                source=data["source"],
            )
        except NotIssuable as exc:  # one code for clients to handle, the precise cause in the details
            raise NotIssuable(exc.message, details={**exc.details, "reason": exc.code}) from None
        with timezone.override(shop_zone(self.shop)):
            body = issued_coupon_body(issued.coupon)
        return body, status.HTTP_201_CREATED if issued.created else status.HTTP_200_OK


_ISSUE_INPUT = MemberCouponsApi.InputSerializer()


# --- Using a coupon ----------------------------------------------------------------------------------------------


class CartItemInput(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    category = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    unit_price = _money()

    class Meta:
        ref_name = "CouponCartItem"


class CartInput(StrictSerializer):
    code = CodeField()
    member_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    order_amount = _money(help_text="What the order comes to before coupons.")
    items = CartItemInput(
        many=True,
        required=False,
        max_length=MAX_ITEMS,
        help_text="The order's items: needed for coupons that cover some categories or SKUs, and for exchange "
        "vouchers.",
    )
    shipping_amount = _money(required=False, default=Decimal(0), help_text="For free-shipping coupons.")

    def cart(self) -> Cart:
        data = self.validated_data
        items = tuple(
            CartItem(sku=i["sku"], category=i["category"], quantity=i["quantity"], unit_price=i["unit_price"])
            for i in data.get("items", [])
        )
        return Cart(amount=data["order_amount"], items=items, shipping=data["shipping_amount"])


NOT_FOUND = error_response("No coupon with this code, or no such member, in this shop.")
CART_EXAMPLE = {
    "code": "7F3A-9C2E-41B8-D05A",
    "member_id": 1024,
    "order_amount": "268.00",
    "items": [{"sku": "MB-001", "category": "母婴", "quantity": 2, "unit_price": "134.00"}],
}


def _plain(details: dict) -> dict:
    """Refusal details as JSON: times as ISO 8601 with the offset, amounts as strings."""
    field = serializers.DateTimeField()
    return {name: field.to_representation(v) if isinstance(v, datetime.datetime) else v for name, v in details.items()}


class ValidateApi(ShopAPIView):
    class InputSerializer(CartInput):
        class Meta:
            ref_name = "CouponValidate"

    class OutputSerializer(serializers.Serializer):
        valid = serializers.BooleanField()
        discount = serializers.DecimalField(**MONEY, help_text="Taken off the order (0.00 when not valid).")
        reason = serializers.CharField(
            allow_null=True,
            help_text="null when valid; else member_not_active, void, not_this_member, used, expired, not_started, "
            "below_threshold, outside_scope, items_required or item_missing.",
        )
        message = serializers.CharField(allow_blank=True, help_text="The reason in words, for the shopper.")
        benefit = serializers.DictField(
            help_text="What the shopper gets besides money: free_shipping, gift_sku, exchange_sku."
        )
        details = serializers.DictField(help_text="Why it is refused: min_spend and short_by, valid_until, ...")

        class Meta:
            ref_name = "CouponValidation"

    @extend_schema(
        operation_id="coupons_validate",
        request=InputSerializer,
        responses={200: OutputSerializer, 404: NOT_FOUND},
        examples=[
            OpenApiExample("check a cart", value=CART_EXAMPLE, request_only=True),
            OpenApiExample(
                "below the threshold",
                value={
                    "valid": False,
                    "discount": "0.00",
                    "reason": "below_threshold",
                    "message": "The order does not reach the coupon's minimum spend.",
                    "benefit": {},
                    "details": {"min_spend": "300.00", "short_by": "32.00"},
                },
                response_only=True,
            ),
        ],
        tags=["coupons"],
        description="Whether the member may use the coupon on this cart, with the discount or the reason not. "
        "Changes nothing. An unknown code or member is 404.",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = member_get_live(shop=self.shop, pk=data["member_id"])
        checked = coupon_validate(shop=self.shop, code=data["code"], member=member, cart=serializer.cart())
        body = {
            "valid": checked.valid,
            "discount": checked.discount,
            "reason": checked.reason or None,
            "message": checked.message,
            "benefit": checked.details if checked.valid else {},
            "details": {} if checked.valid else checked.details,
        }
        with timezone.override(shop_zone(self.shop)):
            body["details"] = _plain(body["details"])
            return Response(self.OutputSerializer(body).data)


class RedeemApi(ShopAPIView):
    class InputSerializer(CartInput):
        order_external_id = serializers.CharField(
            max_length=64,
            help_text="The order the coupon is used on: a retry for the same order returns the first result.",
        )

        class Meta:
            ref_name = "CouponRedeem"

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        coupon_id = serializers.IntegerField()
        code = serializers.CharField(source="coupon.code")
        order_external_id = serializers.CharField()
        order_amount = serializers.DecimalField(**MONEY)
        discount = serializers.DecimalField(**MONEY)
        redeemed_at = serializers.DateTimeField()

        class Meta:
            ref_name = "CouponRedemption"

    @extend_schema(
        operation_id="coupons_redeem",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, 404: NOT_FOUND, 409: CONFLICT},
        examples=[
            OpenApiExample(
                "use on an order", value={**CART_EXAMPLE, "order_external_id": "TB20261123001"}, request_only=True
            )
        ],
        tags=["coupons"],
        description="Use the coupon on the order: 201 with the redemption; a retry for the same order and member "
        "returns 200 with the first one. 409 already_redeemed (used on another order), or coupon_not_usable with "
        "details.reason as validation gives it (or not_stackable: another coupon is on the order). A bearer code "
        "becomes the member's. A full refund or cancellation of the order gives the coupon back or voids it.",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = member_get_live(shop=self.shop, pk=data["member_id"])
        redeemed = coupon_redeem(
            shop=self.shop,
            code=data["code"],
            member=member,
            order_external_id=data["order_external_id"],
            cart=serializer.cart(),
            actor=self.actor,
        )
        with timezone.override(shop_zone(self.shop)):
            body = self.OutputSerializer(redeemed.redemption).data
        return Response(body, status=status.HTTP_201_CREATED if redeemed.created else status.HTTP_200_OK)
