"""The channels row of the integration API (SPEC 10): a shop's own app lists and creates its recruitment entry
points, and fetches their statistics, QR codes and posters. Parsing and rendering only: recruitment.channels checks
the rules (InvalidChannel names each field at fault) and recruitment.render draws the files."""

from django.core.exceptions import ObjectDoesNotExist
from django.core.validators import RegexValidator
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from coupons.apis import WindowDateTimeField
from members.models import MAX_POINTS
from members.tags import tag_find
from shops.ids import ascii_digits, parse_id
from shops.rest.schema import error_response
from shops.rest.serializers import Int64Field, StrictSerializer
from shops.rest.views import ShopAPIView
from shops.time import shop_zone

from . import selectors, stats
from .channels import ChannelInput, channel_create
from .errors import FontMissing, InvalidChannel
from .forms import MAX_BENEFIT_LENGTH, MAX_BENEFITS, PUBLIC_KINDS
from .links import channel_url
from .models import Channel, ChannelKind
from .views import printing

MAX_ID = 2**63 - 1
MAX_LISTED = 100  # ids in one list field: more is a mistake (the service allows 5 coupons)
# The service's field names, as this API names them.
FIELD_NAMES = {"welcome_coupon_ids": "welcome_coupon_template_ids", "tag_ids": "tags"}
TAG_EXAMPLE = [7, "新客"]


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            {"type": "string", "minLength": 1, "maxLength": 50},
        ],
        "description": "A manual tag's id, or its exact name (a name of digits only is read as an id).",
    }
)
class TagRefField(serializers.Field):
    """A tag's id or exact name, as the members API's tag filter takes it; becomes the text tag_find reads."""

    default_error_messages = {"invalid": _("Give a tag's id or its exact name.")}

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool) and 1 <= data <= MAX_ID:
            return str(data)
        if isinstance(data, str) and 0 < len(data.strip()) <= 50 and "\x00" not in data:
            text = data.strip()
            if not ascii_digits(text) or parse_id(text) is not None:  # digits only are an id: in range
                return text
        self.fail("invalid")

    def to_representation(self, value):
        return value


def _kind_field(choices: list[tuple[str, str]]) -> type[serializers.ChoiceField]:
    """A choice of channel kinds. Its enum is wrapped in allOf, which drf-spectacular's enum naming does not visit:
    another named enum of fields called "kind" would collide with the coupon kinds' (a schema warning). Give each
    such field a help_text: alone in its schema, a one-item allOf is unwrapped."""

    @extend_schema_field({"allOf": [{"type": "string", "enum": [value for value, _label in choices]}]})
    class KindField(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices, **kwargs)

    return KindField


PublicKindField = _kind_field(PUBLIC_KINDS)
AnyKindField = _kind_field(ChannelKind.choices)


class StatsOutput(serializers.Serializer):
    visits = serializers.IntegerField(help_text="Visits to the channel's page.")
    unique_visitors = serializers.IntegerField(help_text="Visitors counted once a day each.")
    joins = serializers.IntegerField(help_text="Shoppers who joined through the channel.")
    conversion = serializers.FloatField(
        allow_null=True, help_text="Joins per unique visitor, 0 to 1 (null before anyone came)."
    )

    class Meta:
        ref_name = "ChannelStats"


class ChannelOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = AnyKindField(help_text="purchase: the join-on-purchase channel of buyers enrolled by their first order.")
    code = serializers.CharField()
    url = serializers.URLField(
        allow_null=True, help_text="The public page /j/<code>/ (null for the join-on-purchase channel: no page)."
    )
    qr_svg_url = serializers.URLField(allow_null=True, help_text="The QR code of `url` as SVG, from this API.")
    qr_png_url = serializers.URLField(allow_null=True, help_text="The QR code of `url` as PNG, from this API.")
    poster_url = serializers.URLField(
        allow_null=True, help_text="The printable A4 poster, from this API (add ?size=A5 for A5)."
    )
    headline = serializers.CharField()
    benefits = serializers.ListField(child=serializers.CharField())
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    welcome_points = Int64Field()
    welcome_coupon_template_ids = serializers.ListField(child=serializers.IntegerField())
    tag_ids = serializers.ListField(child=serializers.IntegerField())
    is_active = serializers.BooleanField(help_text="false: paused by staff.")
    stats = StatsOutput()

    class Meta:
        ref_name = "Channel"


def _bodies(request, shop, channels: list[Channel]) -> list[dict]:
    """The channels as ChannelOutput reads them: links and figures fetched for all of them at once."""
    ids = [channel.pk for channel in channels]
    coupons, tags = selectors.channel_links(shop=shop, channel_ids=ids)
    figures = stats.channels_figures(shop=shop, channel_ids=ids)
    bodies = []
    for channel in channels:
        public = channel.kind != ChannelKind.PURCHASE

        def api(name: str, pk: int = channel.pk, public: bool = public) -> str | None:
            return request.build_absolute_uri(reverse(f"api:{name}", args=[pk])) if public else None

        bodies.append(
            {
                "id": channel.pk,
                "name": channel.name,
                "kind": channel.kind,
                "code": channel.code,
                "url": channel_url(channel.code) if public else None,
                "qr_svg_url": api("channel_qr_svg"),
                "qr_png_url": api("channel_qr_png"),
                "poster_url": api("channel_poster"),
                "headline": channel.headline,
                "benefits": [line for line in channel.benefits.splitlines() if line.strip()],
                "valid_from": channel.valid_from,
                "valid_until": channel.valid_until,
                "welcome_points": channel.welcome_points,
                "welcome_coupon_template_ids": sorted(coupons[channel.pk]),
                "tag_ids": sorted(tags[channel.pk]),
                "is_active": channel.is_active,
                "stats": figures[channel.pk].as_dict(),
            }
        )
    return bodies


CHANNEL_EXAMPLE = {
    "name": "静安店收银台",
    "kind": "counter",
    "headline": "扫码入会 立享好礼",
    "benefits": ["新人礼：满100减20 券", "入会即送 200 积分"],
    "welcome_points": 200,
    "welcome_coupon_template_ids": [12],
    "tags": [7, "静安店"],
    "valid_from": "2026-12-01T00:00:00+08:00",
    "valid_until": "2027-03-01T00:00:00+08:00",
}
CHANNEL_OUTPUT_EXAMPLE = {
    "id": 31,
    "name": "静安店收银台",
    "kind": "counter",
    "code": "K7M2Q9XA",
    "url": "https://hy.example.com/j/K7M2Q9XA/",
    "qr_svg_url": "https://hy.example.com/api/v1/channels/31/qr.svg",
    "qr_png_url": "https://hy.example.com/api/v1/channels/31/qr.png",
    "poster_url": "https://hy.example.com/api/v1/channels/31/poster.png",
    "headline": "扫码入会 立享好礼",
    "benefits": ["新人礼：满100减20 券", "入会即送 200 积分"],
    "valid_from": "2026-12-01T00:00:00+08:00",
    "valid_until": "2027-03-01T00:00:00+08:00",
    "welcome_points": 200,
    "welcome_coupon_template_ids": [12],
    "tag_ids": [7, 9],
    "is_active": True,
    "stats": {"visits": 0, "unique_visitors": 0, "joins": 0, "conversion": None},
}


class ChannelListCreateApi(ShopAPIView, ListAPIView):
    """List the shop's channels with their figures, or create one."""

    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=60, help_text="Unique in the shop; for the merchant, not shoppers.")
        kind = PublicKindField(help_text="The kind of entry point: where shoppers meet it.")
        headline = serializers.CharField(
            max_length=40,
            required=False,
            allow_blank=True,
            default="",
            help_text="The poster's big line. Empty: “Scan to join” in the shop's language.",
        )
        benefits = serializers.ListField(
            child=serializers.CharField(
                max_length=MAX_BENEFIT_LENGTH, validators=[RegexValidator(r"[\r\n]", inverse_match=True)]
            ),
            max_length=MAX_BENEFITS,
            required=False,
            default=list,
            help_text="Lines for the poster. Empty: the welcome gift in words.",
        )
        valid_from = WindowDateTimeField(
            required=False, allow_null=True, default=None, help_text="Shoppers can join from then. Null: at once."
        )
        valid_until = WindowDateTimeField(
            required=False, allow_null=True, default=None, help_text="And until then. Null: no end."
        )
        welcome_points = serializers.IntegerField(min_value=0, max_value=MAX_POINTS, required=False, default=0)
        welcome_coupon_template_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
            max_length=MAX_LISTED,
            required=False,
            default=list,
            help_text="Coupon templates of the shop that have not ended, given on joining (at most 5).",
        )
        tags = serializers.ListField(
            child=TagRefField(),
            max_length=MAX_LISTED,
            required=False,
            default=list,
            help_text="Manual tags given to each shopper who joins through the channel.",
        )

        class Meta:
            ref_name = "ChannelCreate"

        def validate_tags(self, refs: list[str]) -> list[int]:
            ids = []
            for ref in refs:
                try:
                    ids.append(tag_find(shop=self.context["shop"], name_or_id=ref).pk)
                except ObjectDoesNotExist:
                    raise serializers.ValidationError(_("No tag %(tag)s in this shop.") % {"tag": ref}) from None
            return ids

        def channel_input(self) -> ChannelInput:
            data = self.validated_data
            return ChannelInput(
                name=data["name"],
                kind=data["kind"],
                headline=data["headline"],
                benefits="\n".join(data["benefits"]),
                valid_from=data["valid_from"],
                valid_until=data["valid_until"],
                welcome_points=data["welcome_points"],
                welcome_coupon_ids=data["welcome_coupon_template_ids"],
                tag_ids=data["tags"],
            )

    serializer_class = ChannelOutput

    def get_queryset(self):
        return selectors.channel_list(shop=self.shop)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        with timezone.override(shop_zone(self.shop)):
            body = ChannelOutput(_bodies(request, self.shop, page), many=True).data
        return self.get_paginated_response(body)

    @extend_schema(
        operation_id="channels_list",
        tags=["recruitment"],
        description="The shop's channels (recruitment entry points), newest first, each with its figures since it "
        "began. The join-on-purchase channel, if the shop has one, has no page: its url fields are null.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="channels_create",
        request=InputSerializer,
        responses={201: ChannelOutput},
        examples=[
            OpenApiExample("a counter display", value=CHANNEL_EXAMPLE, request_only=True),
            OpenApiExample("a share link", value={"name": "微信群分享", "kind": "link"}, request_only=True),
            OpenApiExample("created", value=CHANNEL_OUTPUT_EXAMPLE, response_only=True, status_codes=["201"]),
            OpenApiExample(
                "end before start",
                value={
                    "code": "invalid_channel",
                    "message": "The channel is not valid.",
                    "details": {"valid_until": "The end must come after the start."},
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
        tags=["recruitment"],
        description="Create a channel with a new code and public page /j/<code>/. Times without an offset are in "
        "the shop's time zone. A field that does not fit the others or the shop (a name already used, an end "
        "before the start, another shop's or an ended coupon template, a rule tag) is 400 invalid_channel, its "
        "details naming each field with what is wrong; nothing is stored.",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data, context={"shop": self.shop})
        with timezone.override(shop_zone(self.shop)):
            serializer.is_valid(raise_exception=True)
            try:
                channel = channel_create(shop=self.shop, actor=self.actor, data=serializer.channel_input())
            except InvalidChannel as exc:
                details = {FIELD_NAMES.get(name, name): message for name, message in exc.details.items()}
                raise InvalidChannel(exc.message, details=details) from None
            body = ChannelOutput(_bodies(request, self.shop, [channel])[0]).data
        return Response(body, status=status.HTTP_201_CREATED)


ID_PARAMETER = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The channel's id")


class ChannelDetailApi(ShopAPIView):
    @extend_schema(
        operation_id="channels_retrieve",
        parameters=[ID_PARAMETER],
        responses=ChannelOutput,
        examples=[OpenApiExample("a channel", value=CHANNEL_OUTPUT_EXAMPLE, response_only=True)],
        tags=["recruitment"],
        description="One channel with its figures since it began.",
    )
    def get(self, request, pk: int):
        channel = selectors.channel_get(shop=self.shop, pk=pk)
        with timezone.override(shop_zone(self.shop)):
            return Response(ChannelOutput(_bodies(request, self.shop, [channel])[0]).data)


# --- Files ------------------------------------------------------------------------------------------------------


class ChannelFileApi(ShopAPIView):
    """A file of a channel with a public page (the join-on-purchase channel has none: 404). The file is the answer
    whatever the Accept header asks for; errors are JSON, as everywhere in the API."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    def channel(self, pk: int) -> Channel:
        return printing.printable_channel(shop=self.shop, pk=pk)

    file = staticmethod(printing.attachment)


class ChannelQrSvgApi(ChannelFileApi):
    @extend_schema(
        operation_id="channels_qr_svg",
        parameters=[ID_PARAMETER],
        responses={(200, "image/svg+xml"): OpenApiTypes.BINARY},
        tags=["recruitment"],
        description="The QR code of the channel's public page as an SVG document.",
    )
    def get(self, request, pk: int):
        channel = self.channel(pk)
        return self.file(printing.qr_svg(channel), "image/svg+xml", printing.download_name(channel, ".svg"))


class ChannelQrPngApi(ChannelFileApi):
    @extend_schema(
        operation_id="channels_qr_png",
        parameters=[ID_PARAMETER],
        responses={(200, "image/png"): OpenApiTypes.BINARY},
        tags=["recruitment"],
        description="The QR code of the channel's public page as a PNG, black on white.",
    )
    def get(self, request, pk: int):
        channel = self.channel(pk)
        return self.file(printing.qr_png(channel), "image/png", printing.download_name(channel, ".png"))


class ChannelPosterApi(ChannelFileApi):
    class QuerySerializer(serializers.Serializer):
        size = serializers.ChoiceField(printing.POSTER_SIZES, default=printing.DEFAULT_POSTER_SIZE)

    @extend_schema(
        operation_id="channels_poster",
        parameters=[
            ID_PARAMETER,
            OpenApiParameter(
                "size",
                enum=list(printing.POSTER_SIZES),
                default=printing.DEFAULT_POSTER_SIZE,
                description="A4 (2480x3508 px) or A5 (1748x2480 px), at 300 dpi",
            ),
        ],
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            503: error_response("font_missing: the server has no Chinese font to draw the poster with."),
        },
        examples=[
            OpenApiExample(
                "no font on the server",
                value={
                    "code": "font_missing",
                    "message": "Posters cannot be drawn: no Chinese font is installed on the server.",
                    "details": {"debian_packages": list(printing.DEBIAN_FONT_PACKAGES), "setting": "CJK_FONT_PATH"},
                },
                response_only=True,
                status_codes=["503"],
            )
        ],
        tags=["recruitment"],
        description="The channel's printable poster as a 300 dpi PNG: the shop's name, colour and logo, the "
        "channel's headline and benefits, its QR code and address. 503 font_missing when the server cannot draw "
        "Chinese text (its operator must install a CJK font).",
    )
    def get(self, request, pk: int):
        channel = self.channel(pk)
        query = self.QuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        size = query.validated_data["size"]
        try:
            poster = printing.poster_png(shop=self.shop, channel=channel, size=size)
        except FontMissing:
            details = {"debian_packages": list(printing.DEBIAN_FONT_PACKAGES), "setting": "CJK_FONT_PATH"}
            raise FontMissing(details=details) from None  # the server's font paths stay out of the answer
        return self.file(poster, "image/png", printing.download_name(channel, f"-poster-{size}.png"))
