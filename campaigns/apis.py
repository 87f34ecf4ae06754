"""Campaigns in the integration API (SPEC 10, second table; SPEC 12)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from shops.ids import parse_id
from shops.rest.schema import CONFLICT, error_response
from shops.rest.serializers import MULTILINE, StrictSerializer
from shops.rest.views import ShopAPIView

from . import receipts, selectors, services
from .models import CampaignStatus, Channel, MessageStatus, QuietHoursPolicy
from .reports import campaign_report


class CampaignOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    channel = serializers.CharField()
    status = serializers.CharField()
    audience = serializers.JSONField()
    title = serializers.CharField()
    text = serializers.CharField()
    link_url = serializers.CharField()
    coupon_template_id = serializers.IntegerField(allow_null=True)
    holdout_percent = serializers.IntegerField()
    send_at = serializers.DateTimeField(allow_null=True)
    send_at_active_hour = serializers.BooleanField()
    quiet_hours = serializers.CharField()
    attribution_days = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class CampaignDetailOutput(CampaignOutput):
    counts = serializers.JSONField(
        help_text="audience, suppressed (by reason), holdout, queued, sent, delivered, failed, clicked, converted"
    )
    coupon = serializers.JSONField(help_text="What the attached coupon did: issued, skipped_* by cause")
    uplift = serializers.JSONField(allow_null=True, help_text="Treated against holdout, with 95% intervals")
    cost = serializers.JSONField(required=False)
    final = serializers.BooleanField(help_text="The attribution window has passed: the figures are final")


def campaign_detail(shop, campaign) -> dict:
    report = campaign_report(shop=shop, campaign=campaign)
    return {
        **CampaignOutput(campaign).data,
        "counts": report["counts"],
        "coupon": report["coupon"],
        "uplift": report["uplift"],
        "cost": report.get("cost", {}),
        "final": report["final"],
    }


class CampaignInput(StrictSerializer):
    name = serializers.CharField(max_length=100)
    channel = serializers.ChoiceField(choices=Channel.values)
    audience = serializers.JSONField(help_text='{"segment_id": n} | {"tag": name or id} | {"filter": {...}}')
    title = serializers.CharField(max_length=60, required=False, allow_blank=True)
    text = serializers.CharField(max_length=1000, style=MULTILINE)
    link_url = serializers.CharField(max_length=500, required=False, allow_blank=True)
    coupon_template_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62)
    holdout_percent = serializers.IntegerField(required=False, min_value=0, max_value=50, default=10)
    send_at = serializers.DateTimeField(required=False, allow_null=True)
    send_at_active_hour = serializers.BooleanField(required=False, default=False)
    quiet_hours = serializers.ChoiceField(choices=QuietHoursPolicy.values, required=False, default="defer")
    attribution_days = serializers.IntegerField(required=False, min_value=1, max_value=90, default=7)
    idempotency_key = serializers.CharField(max_length=100, required=False, allow_blank=True)

    class Meta:
        ref_name = "CampaignCreate"


class CampaignListCreateApi(ShopAPIView, ListAPIView):
    serializer_class = CampaignOutput

    def get_queryset(self):
        return selectors.campaign_list(shop=self.shop)

    @extend_schema(operation_id="campaigns_list", tags=["campaigns"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="campaigns_create",
        request=CampaignInput,
        responses={201: CampaignOutput, 200: CampaignOutput, 409: CONFLICT},
        tags=["campaigns"],
        description="A draft. With an idempotency_key, a retry returns the first campaign (200).",
    )
    def post(self, request):
        serializer = CampaignInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        key = data.pop("idempotency_key", "")
        campaign, created = services.campaign_create(
            shop=self.shop, actor=self.actor, data=services.CampaignInput(**data), idempotency_key=key
        )
        return Response(
            CampaignOutput(campaign).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class CampaignDetailApi(ShopAPIView):
    @extend_schema(operation_id="campaigns_retrieve", responses=CampaignDetailOutput, tags=["campaigns"])
    def get(self, request, pk: int):
        campaign = selectors.campaign_get(shop=self.shop, pk=pk)
        return Response(campaign_detail(self.shop, campaign))


def _lifecycle(action: str, doc: str):
    service = getattr(services, f"campaign_{action}")

    class LifecycleApi(ShopAPIView):
        @extend_schema(
            operation_id=f"campaigns_{action}",
            request=None,
            responses={200: CampaignOutput, 409: CONFLICT},
            tags=["campaigns"],
            description=doc,
        )
        def post(self, request, pk: int):
            campaign = selectors.campaign_get(shop=self.shop, pk=pk)
            campaign = service(shop=self.shop, actor=self.actor, campaign=campaign)
            return Response(CampaignOutput(campaign).data)

    LifecycleApi.__name__ = f"Campaign{action.title()}Api"
    return LifecycleApi


CampaignSendApi = _lifecycle(
    "send",
    "Snapshot the audience and send (or schedule, when send_at is ahead). "
    "Idempotent: a campaign on its way is returned as it is.",
)
CampaignPauseApi = _lifecycle("pause", "Stop new sends within seconds; nothing is lost.")
CampaignResumeApi = _lifecycle("resume", "Carry on from where the campaign stopped.")
CampaignCancelApi = _lifecycle("cancel", "Stop for good: messages not sent yet are never sent.")


class MessageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    member_id = serializers.IntegerField()
    channel = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField()
    due_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    clicked_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField()
    coupon_id = serializers.IntegerField(allow_null=True)


class CampaignMessagesApi(ShopAPIView, ListAPIView):
    serializer_class = MessageOutput

    def get_queryset(self):
        campaign = selectors.campaign_get(shop=self.shop, pk=self.kwargs["pk"])
        params = self.request.query_params
        qs = selectors.campaign_messages(shop=self.shop, campaign=campaign)
        if state := params.get("status"):
            if state not in MessageStatus.values:
                raise serializers.ValidationError({"status": [f"Use one of {', '.join(MessageStatus.values)}."]})
            qs = qs.filter(status=state)
        if (member := params.get("member_id")) is not None:
            if (member_id := parse_id(member)) is None:
                raise serializers.ValidationError({"member_id": ["Give a member id."]})
            qs = qs.filter(member_id=member_id)
        return qs

    @extend_schema(
        operation_id="campaigns_messages",
        parameters=[
            OpenApiParameter("status", enum=MessageStatus.values),
            OpenApiParameter("member_id", type=int),
        ],
        tags=["campaigns"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ReceiptInput(StrictSerializer):
    type = serializers.ChoiceField(choices=["receipt", "reply"])
    message_id = serializers.CharField(max_length=64, required=False)
    status = serializers.ChoiceField(choices=["delivered", "failed"], required=False)
    error = serializers.CharField(max_length=500, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False)
    text = serializers.CharField(max_length=500, required=False, allow_blank=True)
    received_at = serializers.DateTimeField(required=False)

    class Meta:
        ref_name = "ProviderCallback"

    def validate(self, attrs):
        need = ("message_id", "status") if attrs["type"] == "receipt" else ("phone", "text")
        if missing := [name for name in need if name not in attrs]:
            raise serializers.ValidationError({name: ["This field is required."] for name in missing})
        return attrs


class ReceiptOutput(serializers.Serializer):
    known = serializers.BooleanField(required=False, help_text="A receipt: whether the message id is ours")
    opted_out = serializers.BooleanField(required=False, help_text="A reply: whether it withdrew SMS consent")

    class Meta:
        ref_name = "ProviderCallbackAnswer"


class ReceiptsHttpApi(APIView):
    """The `http` SMS provider's callback: delivery receipts and replies (campaigns.receipts). Authenticated by
    the body's signature, not by an API key."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        operation_id="messaging_receipts_http",
        request=ReceiptInput,
        responses={200: ReceiptOutput, 401: error_response("bad_signature: the signature is missing or wrong.")},
        tags=["campaigns"],
        auth=[],
        parameters=[OpenApiParameter("X-Huiyuan-Signature", location="header", required=True)],
    )
    def post(self, request):
        if not receipts.signature_valid(request.body, request.headers.get("X-Huiyuan-Signature", "")):
            return Response(
                {"code": "bad_signature", "message": "The signature does not match.", "details": {}},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        serializer = ReceiptInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["type"] == "receipt":
            known = receipts.receipt_record(
                message_id=data["message_id"], delivered=data["status"] == "delivered", error=data.get("error", "")
            )
            return Response({"known": known})
        return Response({"opted_out": receipts.reply_record(phone=data["phone"], text=data["text"])})


__all__ = [
    "CampaignCancelApi",
    "CampaignDetailApi",
    "CampaignListCreateApi",
    "CampaignMessagesApi",
    "CampaignPauseApi",
    "CampaignResumeApi",
    "CampaignSendApi",
    "CampaignStatus",
]
