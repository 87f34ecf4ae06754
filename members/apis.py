import datetime
import re

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from shops.extensions import TIER_LOOKUP, implementation
from shops.rest.schema import CONFLICT
from shops.rest.serializers import Int64Field, StrictSerializer
from shops.rest.views import ShopAPIView

from . import selectors, services
from .errors import UnknownTag, UnknownTier
from .models import ConsentChannel, DevicePlatform, Gender, Tag
from .tags import tag_find, tags_of_members

# The pattern admits each month's days up to 31 and the years 1900 to 2099: "02-30" and a year after this one pass
# it and are refused as no real birthday.
BIRTHDAY = re.compile(r"^((19|20)[0-9]{2}-)?(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


@extend_schema_field({"type": "string", "pattern": BIRTHDAY.pattern, "example": "05-20"})
class BirthdayField(serializers.Field):
    """Input only: "MM-DD" (year unknown) or "YYYY-MM-DD", to the member's birthday fields. Exactly the schema's
    pattern: no number, no spaces, and not the other forms date.fromisoformat takes ("20000520")."""

    default_error_messages = {"invalid": "Use MM-DD or YYYY-MM-DD, a real date."}

    def to_internal_value(self, value):
        if not isinstance(value, str) or not BIRTHDAY.fullmatch(value):
            self.fail("invalid")
        text = value
        try:
            if len(text) == 5:
                day = datetime.date.fromisoformat(f"2000-{text}")  # a leap year, so 02-29 is a valid birthday
                return {"birthday_month": day.month, "birthday_day": day.day, "birth_year": None}
            day = datetime.date.fromisoformat(text)
        except ValueError:
            self.fail("invalid")
        if not 1900 <= day.year <= datetime.date.today().year:
            self.fail("invalid")
        return {"birthday_month": day.month, "birthday_day": day.day, "birth_year": day.year}

    def to_representation(self, value):
        raise NotImplementedError("input only: MemberOutput.get_birthday renders birthdays")


@extend_schema_field(
    {
        "type": "object",
        "properties": {channel: {"type": "boolean"} for channel in ConsentChannel.values},
        "additionalProperties": False,
    }
)
class ConsentsField(serializers.DictField):
    child = serializers.BooleanField()

    def to_internal_value(self, data):
        consents = super().to_internal_value(data)
        unknown = sorted(set(consents) - set(ConsentChannel.values))
        if unknown:
            raise serializers.ValidationError(f"Unknown channels: {', '.join(unknown)}. Use sms, push, email.")
        return consents


class MemberOutput(serializers.Serializer):
    id = serializers.IntegerField()
    phone = serializers.CharField()
    name = serializers.CharField()
    gender = serializers.CharField()
    birthday = serializers.SerializerMethodField()
    region = serializers.CharField()
    email = serializers.CharField()
    external_id = serializers.CharField()
    status = serializers.CharField()
    join_channel = serializers.CharField()
    joined_at = serializers.DateTimeField()
    lifetime_spend = serializers.DecimalField(max_digits=14, decimal_places=2)
    order_count = serializers.IntegerField()
    first_order_at = serializers.DateTimeField(allow_null=True)
    last_order_at = serializers.DateTimeField(allow_null=True)
    consents = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    tier = serializers.SerializerMethodField()
    points_balance = Int64Field()
    points_pending = Int64Field()
    growth_value = Int64Field()
    # Member intelligence (SPEC 15), null until the shop's nightly scoring has scored the member.
    churn_risk = serializers.SerializerMethodField()
    p_alive = serializers.SerializerMethodField()
    predicted_value = serializers.SerializerMethodField()

    class Meta:
        ref_name = "Member"

    @extend_schema_field({"type": "string", "enum": ["low", "medium", "high"], "nullable": True})
    def get_churn_risk(self, member):
        return self.context["scores"].get(member.pk, {}).get("churn_risk")

    @extend_schema_field({"type": "number", "format": "double", "minimum": 0, "maximum": 1, "nullable": True})
    def get_p_alive(self, member):
        return self.context["scores"].get(member.pk, {}).get("p_alive")

    @extend_schema_field({"type": "string", "format": "decimal", "nullable": True})
    def get_predicted_value(self, member):
        value = self.context["scores"].get(member.pk, {}).get("predicted_value")
        return None if value is None else f"{value:.2f}"

    def get_tags(self, member) -> list[str]:
        return self.context["tags"].get(member.pk, [])

    @extend_schema_field(
        {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "rank": {"type": "integer"}},
        }
    )
    def get_tier(self, member):
        tier = member.tier or self.context["base_tier"]  # NULL: the rank-0 tier
        return {"id": tier.pk, "name": tier.name, "rank": tier.rank}

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "month": {"type": "integer"},
                "day": {"type": "integer"},
                "year": {"type": "integer", "nullable": True},
            },
        }
    )
    def get_birthday(self, member):
        if not member.birthday_month:
            return None
        return {"month": member.birthday_month, "day": member.birthday_day, "year": member.birth_year}

    def get_consents(self, member) -> dict[str, bool]:
        return {
            "sms": member.consent_sms,
            "push": member.consent_push,
            "email": member.consent_email,
            "service": member.consent_service,
        }


def member_output(members, *, shop, many: bool = False):
    """Serialized member(s), their tags read in one query."""
    rows = list(members) if many else [members]
    context = {
        "tags": tags_of_members(shop=shop, member_ids=[m.pk for m in rows]),
        "base_tier": implementation(TIER_LOOKUP).tier_base_of(shop=shop),
        "scores": selectors.member_scores(shop=shop, member_ids=[m.pk for m in rows]),
    }
    return MemberOutput(rows if many else members, many=many, context=context).data


class MemberFields(StrictSerializer):
    name = serializers.CharField(max_length=50, required=False, allow_blank=True)
    gender = serializers.ChoiceField(Gender.choices, required=False)
    birthday = BirthdayField(required=False)
    region = serializers.CharField(max_length=64, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    external_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    wechat_openid = serializers.CharField(max_length=64, required=False, allow_blank=True)
    consents = ConsentsField(required=False)

    def validated_changes(self) -> dict:
        data = dict(self.validated_data)
        data.update(data.pop("birthday", {}))
        return data


class MemberListCreateApi(ShopAPIView, ListAPIView):
    """Enrol a member, or look members up."""

    class InputSerializer(MemberFields):
        phone = serializers.CharField(max_length=32)
        channel = serializers.CharField(
            max_length=32,
            required=False,
            allow_blank=True,
            help_text="The code of the recruitment channel the shopper joined through (its welcome gift is given)",
        )
        referrer_code = serializers.CharField(
            max_length=16, required=False, allow_blank=True, help_text="The inviting member's referral code"
        )

        class Meta:
            ref_name = "MemberEnrol"

    serializer_class = MemberOutput

    def get_queryset(self):
        params = self.request.query_params
        phone = params.get("phone", "")
        if phone:
            phone = services.phone_normalize(phone)
        tag = None
        if params.get("tag"):
            try:
                tag = tag_find(shop=self.shop, name_or_id=params["tag"])
            except Tag.DoesNotExist:
                raise UnknownTag(details={"tag": params["tag"]}) from None
        tier = None
        if params.get("tier"):
            try:
                tier = implementation(TIER_LOOKUP).tier_find(shop=self.shop, name_or_id=params["tier"])
            except ObjectDoesNotExist:
                raise UnknownTier(details={"tier": params["tier"]}) from None
        return selectors.member_search(
            shop=self.shop, phone=phone, external_id=params.get("external_id", ""), tag=tag, tier=tier
        )

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(member_output(page, shop=self.shop, many=True))

    @extend_schema(
        operation_id="members_list",
        parameters=[
            OpenApiParameter("phone", description="Any common format; matched as E.164"),
            OpenApiParameter("external_id", description="Platform buyer id"),
            OpenApiParameter("tag", description="A tag's id or exact name"),
            OpenApiParameter("tier", description="A tier's id or exact name"),
        ],
        tags=["members"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="members_enrol",
        request=InputSerializer,
        responses={201: MemberOutput, 200: MemberOutput, 409: CONFLICT},
        examples=[
            OpenApiExample(
                "enrol",
                value={"phone": "13800138000", "name": "张三", "birthday": "05-20", "consents": {"sms": True}},
                request_only=True,
            )
        ],
        tags=["members"],
        description="201 with the new member; 200 with the existing one when the phone is already a member "
        "(nothing changes).",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_changes()
        member, created = services.member_enroll(shop=self.shop, data=services.Enrolment(**data))
        return Response(
            member_output(member, shop=self.shop), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class MemberDetailApi(ShopAPIView):
    class InputSerializer(MemberFields):
        phone = serializers.CharField(max_length=32, required=False)

        class Meta:
            ref_name = "MemberUpdate"

    @extend_schema(operation_id="members_retrieve", responses=MemberOutput, tags=["members"])
    def get(self, request, pk: int):
        return Response(member_output(selectors.member_get(shop=self.shop, pk=pk), shop=self.shop))

    @extend_schema(
        operation_id="members_update",
        request=InputSerializer,
        responses={200: MemberOutput, 409: CONFLICT},
        tags=["members"],
    )
    def patch(self, request, pk: int):
        member = selectors.member_get(shop=self.shop, pk=pk)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = services.member_update(
            shop=self.shop, member=member, actor=self.actor, **serializer.validated_changes()
        )
        return Response(member_output(member, shop=self.shop))


class MemberDeviceApi(ShopAPIView):
    """Register a member's app push token (SPEC 12: the push channel's address)."""

    class InputSerializer(StrictSerializer):
        platform = serializers.ChoiceField(DevicePlatform.choices)
        token = serializers.CharField(max_length=255, help_text="The push token the app got from its platform")

        class Meta:
            ref_name = "DeviceRegister"

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        platform = serializers.CharField()
        token = serializers.CharField()
        created_at = serializers.DateTimeField()

        class Meta:
            ref_name = "Device"

    @extend_schema(
        operation_id="members_devices_register",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, 409: CONFLICT},
        examples=[OpenApiExample("register", value={"platform": "ios", "token": "a1b2c3d4"}, request_only=True)],
        tags=["members"],
        description="201 when the token is registered for this member (new, or taken over from another member of "
        "the shop: a phone that changed hands); 200 when it was already this member's (nothing changes).",
    )
    def post(self, request, pk: int):
        member = selectors.member_get(shop=self.shop, pk=pk)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        device, registered = services.device_register(shop=self.shop, member=member, **serializer.validated_data)
        return Response(
            self.OutputSerializer(device).data, status=status.HTTP_201_CREATED if registered else status.HTTP_200_OK
        )
