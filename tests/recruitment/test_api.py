"""The channels row of the API contract: channels/ (list, create), channels/{id}/ and its files qr.svg, qr.png and
poster.png; bad input, a missing font, and other shops' channels."""

import datetime
from io import BytesIO

import pytest
import zxingcpp
from PIL import Image

from coupons.services import template_set_status
from members.tags import tag_create
from recruitment import render, stats
from recruitment.channels import channel_set_active, purchase_channel
from recruitment.links import channel_url
from recruitment.models import Channel, ChannelTag, WelcomeCoupon
from shops.models import AuditLogEntry
from shops.services import SYSTEM
from tests.coupons.helpers import make_template

from .helpers import join, make_channel

pytestmark = pytest.mark.django_db

CHANNELS = "/api/v1/channels/"
API = "http://testserver/api/v1/channels"


def _state(shop) -> tuple:
    return (
        list(Channel.objects.filter(shop=shop).order_by("pk").values()),
        list(WelcomeCoupon.objects.filter(shop=shop).order_by("pk").values("channel_id", "template_id")),
        list(ChannelTag.objects.filter(shop=shop).order_by("pk").values("channel_id", "tag_id")),
    )


def _post(client, body):
    return client.post(CHANNELS, body, format="json")


# --- create -------------------------------------------------------------------------------------------------------


def test_creating_a_channel_answers_201_with_its_links_and_empty_figures(api_client, shop):
    # given: a coupon template and two manual tags, one named by its id and one by its name
    template = make_template(shop)
    first = tag_create(shop=shop, actor=SYSTEM, name="静安店")
    second = tag_create(shop=shop, actor=SYSTEM, name="新客")

    # when
    response = _post(
        api_client,
        {
            "name": "静安店收银台",
            "kind": "counter",
            "welcome_points": 200,
            "welcome_coupon_template_ids": [template.pk],
            "tags": [first.pk, "新客"],
            "valid_from": "2026-12-01T00:00:00+08:00",
            "valid_until": "2027-03-01T00:00",
            "headline": "扫码入会",
            "benefits": ["新人礼：满100减20", "入会送 200 积分"],
        },
    )

    # then
    assert response.status_code == 201, response.json()
    channel = Channel.objects.get(shop=shop)
    assert response.json() == {
        "id": channel.pk,
        "name": "静安店收银台",
        "kind": "counter",
        "code": channel.code,
        "url": channel_url(channel.code),
        "qr_svg_url": f"{API}/{channel.pk}/qr.svg",
        "qr_png_url": f"{API}/{channel.pk}/qr.png",
        "poster_url": f"{API}/{channel.pk}/poster.png",
        "headline": "扫码入会",
        "benefits": ["新人礼：满100减20", "入会送 200 积分"],
        "valid_from": "2026-12-01T00:00:00+08:00",
        "valid_until": "2027-03-01T00:00:00+08:00",  # no offset given: the shop's time zone
        "welcome_points": 200,
        "welcome_coupon_template_ids": [template.pk],
        "tag_ids": sorted([first.pk, second.pk]),
        "is_active": True,
        "stats": {"visits": 0, "unique_visitors": 0, "joins": 0, "conversion": None},
    }
    assert channel.benefits == "新人礼：满100减20\n入会送 200 积分"
    assert AuditLogEntry.objects.filter(shop=shop, action="channel.create").count() == 1


def test_a_channel_needs_only_a_name_and_a_kind(api_client, shop):
    response = _post(api_client, {"name": "微信群分享", "kind": "link"})

    assert response.status_code == 201
    body = response.json()
    assert (body["welcome_points"], body["welcome_coupon_template_ids"], body["tag_ids"]) == (0, [], [])
    assert (body["valid_from"], body["valid_until"], body["headline"], body["benefits"]) == (None, None, "", [])


# --- bad input ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "qr"}, "name"),
        ({"name": "  ", "kind": "qr"}, "name"),
        ({"name": "x" * 61, "kind": "qr"}, "name"),
        ({"name": "甲", "kind": "purchase"}, "kind"),
        ({"name": "甲", "kind": "billboard"}, "kind"),
        ({"name": "甲", "kind": "qr", "welcome_points": -1}, "welcome_points"),
        ({"name": "甲", "kind": "qr", "welcome_points": 10**12 + 1}, "welcome_points"),
        ({"name": "甲", "kind": "qr", "welcome_coupon_template_ids": [0]}, "welcome_coupon_template_ids"),
        ({"name": "甲", "kind": "qr", "welcome_coupon_template_ids": [2**63]}, "welcome_coupon_template_ids"),
        ({"name": "甲", "kind": "qr", "tags": [True]}, "tags"),
        ({"name": "甲", "kind": "qr", "tags": ["99999999999999999999999"]}, "tags"),
        ({"name": "甲", "kind": "qr", "tags": ["没有这个标签"]}, "tags"),
        ({"name": "甲", "kind": "qr", "valid_from": "1899-01-01T00:00:00Z"}, "valid_from"),
        ({"name": "甲", "kind": "qr", "benefits": ["一\n二"]}, "benefits"),
        ({"name": "甲", "kind": "qr", "benefits": ["行"] * 9}, "benefits"),
        ({"name": "甲", "kind": "qr", "headline": "长" * 41}, "headline"),
        ({"name": "甲", "kind": "qr", "colour": "#fff"}, "colour"),
    ],
)
def test_malformed_input_is_a_400_naming_the_field_and_nothing_is_stored(api_client, shop, body, field):
    response = _post(api_client, body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["details"]) == [field]
    assert _state(shop) == ([], [], [])


def test_a_name_already_used_is_a_400_invalid_channel_and_nothing_is_stored(api_client, shop):
    make_channel(shop, "静安店收银台")
    before = _state(shop)

    response = _post(api_client, {"name": "静安店收银台", "kind": "qr"})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_channel",
        "message": "The channel is not valid.",
        "details": {"name": "Another channel already has this name."},
    }
    assert _state(shop) == before


def test_an_end_before_the_start_is_a_400_on_valid_until(api_client, shop):
    response = _post(
        api_client,
        {
            "name": "甲",
            "kind": "qr",
            "valid_from": "2026-12-02T00:00:00+08:00",
            "valid_until": "2026-12-01T00:00:00+08:00",
        },
    )

    assert response.status_code == 400
    assert response.json()["details"] == {"valid_until": "The end must come after the start."}
    assert _state(shop) == ([], [], [])


def test_another_shops_or_an_ended_coupon_template_is_a_400_in_the_apis_own_field_names(api_client, shop, other_shop):
    foreign = make_template(other_shop)
    ended = make_template(shop, name="已结束")
    template_set_status(shop=shop, actor=SYSTEM, template=ended, status="ended")

    for template in (foreign, ended):
        response = _post(api_client, {"name": "甲", "kind": "qr", "welcome_coupon_template_ids": [template.pk]})
        assert response.status_code == 400
        assert response.json()["details"] == {
            "welcome_coupon_template_ids": "Choose coupon templates of this shop that have not ended."
        }
    assert _state(shop) == ([], [], [])


def test_another_shops_tag_or_a_rule_tag_is_a_400_on_tags(api_client, shop, other_shop):
    foreign = tag_create(shop=other_shop, actor=SYSTEM, name="乙店标签")
    rule = tag_create(shop=shop, actor=SYSTEM, name="规则", rule={"spend_min": "100"})

    by_foreign_id = _post(api_client, {"name": "甲", "kind": "qr", "tags": [foreign.pk]})
    by_foreign_name = _post(api_client, {"name": "甲", "kind": "qr", "tags": ["乙店标签"]})
    by_rule = _post(api_client, {"name": "甲", "kind": "qr", "tags": [rule.pk]})

    assert [r.status_code for r in (by_foreign_id, by_foreign_name, by_rule)] == [400, 400, 400]
    assert list(by_foreign_id.json()["details"]) == ["tags"]
    assert list(by_foreign_name.json()["details"]) == ["tags"]
    assert by_rule.json()["details"] == {"tags": "Choose manual tags of this shop."}
    assert _state(shop) == ([], [], [])


@pytest.mark.parametrize(
    "spelling",
    [
        str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"),
        str.maketrans("0123456789", "０１２３４５６７８９"),
        "99999999999999999999",
    ],
    ids=["superscript", "fullwidth", "beyond bigint"],
)
def test_a_tag_id_in_digits_other_than_ascii_or_beyond_bigint_is_a_400_on_tags(api_client, shop, spelling):
    tag = tag_create(shop=shop, actor=SYSTEM, name="新客")
    ref = spelling if isinstance(spelling, str) else str(tag.pk).translate(spelling)

    response = _post(api_client, {"name": "甲", "kind": "qr", "tags": [ref]})

    assert response.status_code == 400, response.content
    assert list(response.json()["details"]) == ["tags"]
    assert _state(shop) == ([], [], [])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "收银台\x1b[2J"),
        ("name", "\u202e台银收"),
        ("headline", "扫码\u2067入会"),
        ("benefits", ["满减", "\x07"]),
    ],
)
def test_a_control_or_text_direction_character_is_a_400_on_its_field_and_nothing_is_stored(
    api_client, shop, field, value
):
    response = _post(api_client, {"name": "甲", "kind": "qr", field: value})

    assert response.status_code == 400, response.content
    assert list(response.json()["details"]) == [field]
    assert _state(shop) == ([], [], [])


def test_a_body_that_is_not_an_object_is_a_400(api_client, shop):
    assert api_client.post(CHANNELS, [1, 2], format="json").status_code == 400
    assert api_client.post(CHANNELS, "x", content_type="application/json").status_code == 400
    assert _state(shop) == ([], [], [])


# --- read -----------------------------------------------------------------------------------------------------------


def test_the_list_is_newest_first_with_each_channels_figures(api_client, shop, other_shop):
    # given: two channels, visits and a join on the first; a channel of another shop
    first = make_channel(shop, "收银台")
    second = make_channel(shop, "微信群", kind="link")
    make_channel(other_shop, "乙店渠道")
    for visitor in ("a", "b", "b", "c"):
        stats.visit_record(shop=shop, channel=first, visitor=visitor)
    join(shop, 1, channel=first.code)

    # when
    response = api_client.get(CHANNELS)

    # then
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["name"] for r in results] == ["微信群", "收银台"]
    assert results[1]["stats"] == {"visits": 4, "unique_visitors": 3, "joins": 1, "conversion": 0.3333}
    assert results[0]["stats"] == {"visits": 0, "unique_visitors": 0, "joins": 0, "conversion": None}
    assert results[0]["url"] == channel_url(second.code)


def test_the_list_pages_with_a_cursor(api_client, shop):
    for n in range(3):
        make_channel(shop, f"渠道{n}")

    first = api_client.get(CHANNELS + "?limit=2").json()
    second = api_client.get(first["next"]).json()

    assert [r["name"] for r in first["results"]] == ["渠道2", "渠道1"]
    assert [r["name"] for r in second["results"]] == ["渠道0"]


def test_the_join_on_purchase_channel_is_listed_without_links(api_client, shop):
    channel = purchase_channel(shop=shop)

    body = api_client.get(f"{CHANNELS}{channel.pk}/").json()

    assert body["kind"] == "purchase"
    assert (body["url"], body["qr_svg_url"], body["qr_png_url"], body["poster_url"]) == (None, None, None, None)
    for name in ("qr.svg", "qr.png", "poster.png"):
        assert api_client.get(f"{CHANNELS}{channel.pk}/{name}").status_code == 404


def test_a_channel_reads_with_its_gift_tags_and_status(api_client, shop):
    template = make_template(shop)
    tag = tag_create(shop=shop, actor=SYSTEM, name="静安店")
    channel = make_channel(
        shop,
        welcome_points=5,
        welcome_coupon_ids=[template.pk],
        tag_ids=[tag.pk],
        valid_until=datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC),
    )
    channel_set_active(shop=shop, actor=SYSTEM, channel=channel, active=False)

    body = api_client.get(f"{CHANNELS}{channel.pk}/").json()

    assert (body["welcome_points"], body["welcome_coupon_template_ids"], body["tag_ids"]) == (
        5,
        [template.pk],
        [tag.pk],
    )
    assert body["is_active"] is False
    assert body["valid_until"] == "2027-01-01T08:00:00+08:00"


def test_another_shops_channel_is_not_found(api_client, other_shop):
    foreign = make_channel(other_shop)
    for suffix in ("", "qr.svg", "qr.png", "poster.png"):
        response = api_client.get(f"{CHANNELS}{foreign.pk}/{suffix}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_without_a_key_the_files_are_refused(client, shop):
    channel = make_channel(shop)
    response = client.get(f"{CHANNELS}{channel.pk}/qr.png")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- files ----------------------------------------------------------------------------------------------------------


def _decoded(png: bytes) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(Image.open(BytesIO(png)))]


def test_the_qr_png_decodes_to_the_channels_url_whatever_the_accept_header(api_client, shop):
    channel = make_channel(shop)

    for accept in ("image/png", "application/json", "*/*"):
        response = api_client.get(f"{CHANNELS}{channel.pk}/qr.png", HTTP_ACCEPT=accept)
        assert response.status_code == 200, accept
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"] == f'attachment; filename="channel-{channel.code}.png"'
        assert _decoded(response.content) == [channel_url(channel.code)]


def test_the_qr_svg_is_svg(api_client, shop):
    channel = make_channel(shop)

    response = api_client.get(f"{CHANNELS}{channel.pk}/qr.svg", HTTP_ACCEPT="image/svg+xml")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")


@pytest.mark.parametrize(
    ("query", "pixels"), [("", (2480, 3508)), ("?size=A4", (2480, 3508)), ("?size=A5", (1748, 2480))]
)
def test_the_poster_is_a_png_of_the_asked_size_whose_qr_decodes(api_client, shop, query, pixels):
    channel = make_channel(shop)

    response = api_client.get(f"{CHANNELS}{channel.pk}/poster.png{query}")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert Image.open(BytesIO(response.content)).size == pixels
    assert _decoded(response.content) == [channel_url(channel.code)]


def test_an_unknown_poster_size_is_a_400(api_client, shop):
    channel = make_channel(shop)

    response = api_client.get(f"{CHANNELS}{channel.pk}/poster.png?size=A3")

    assert response.status_code == 400
    assert list(response.json()["details"]) == ["size"]


def test_without_a_cjk_font_the_poster_is_a_503_font_missing(api_client, shop, settings, monkeypatch):
    settings.CJK_FONT_PATH = "/nonexistent/fonts/NotoSansCJK-Regular.ttc"
    monkeypatch.setattr(render, "FALLBACK_FONT_PATHS", ())
    channel = make_channel(shop)

    response = api_client.get(f"{CHANNELS}{channel.pk}/poster.png", HTTP_ACCEPT="image/png")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "font_missing",
        "message": "Posters cannot be drawn: no Chinese font is installed on the server.",
        "details": {"debian_packages": ["fonts-noto-cjk", "fonts-wqy-microhei"], "setting": "CJK_FONT_PATH"},
    }
    assert "/nonexistent" not in response.content.decode()


# --- generated requests ---------------------------------------------------------------------------------------------

CHANNEL_OPERATIONS = [
    ("GET", "/api/v1/channels/"),
    ("POST", "/api/v1/channels/"),
    ("GET", "/api/v1/channels/{id}/"),
    ("GET", "/api/v1/channels/{id}/qr.svg"),
    ("GET", "/api/v1/channels/{id}/qr.png"),
    ("GET", "/api/v1/channels/{id}/poster.png"),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("method", "path"), CHANNEL_OPERATIONS, ids=[f"{m} {p}" for m, p in CHANNEL_OPERATIONS])
def test_generated_channel_requests_get_documented_answers_and_never_a_5xx(shop, settings, method, path):
    """As tests/test_schemathesis.py does for the other rows, for the channel operations: requests generated from
    the served schema, positive and negative, against a shop with a channel, a coupon template and a tag."""
    import schemathesis
    from django.core.wsgi import get_wsgi_application
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as hypothesis_settings
    from schemathesis.generation import GenerationMode

    from tests.factories import make_api_key
    from tests.test_schemathesis import CHECKS, ERROR_BODY

    settings.API_THROTTLE_RATE = 1_000_000.0
    settings.API_THROTTLE_BURST = 1_000_000
    app = get_wsgi_application()
    auth = {"Authorization": f"Bearer {make_api_key(shop)[1]}"}
    make_template(shop)
    tag_create(shop=shop, actor=SYSTEM, name="静安店")
    channel = make_channel(shop)
    raw = schemathesis.openapi.from_wsgi("/api/v1/schema/", app, headers=auth).raw_schema
    raw["components"]["schemas"]["Error"] = ERROR_BODY
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = app
    operation = schema[path][method]
    plans = [(GenerationMode.POSITIVE, None, 20), (GenerationMode.NEGATIVE, None, 10)]
    if "{id}" in path:
        plans.append((GenerationMode.POSITIVE, {"id": channel.pk}, 6 if "poster" in path else 15))

    for mode, path_parameters, examples in plans:

        @hypothesis_settings(
            max_examples=examples,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        def check(case):
            response = case.call(headers=auth)
            case.validate_response(response, checks=CHECKS, headers=auth)

        check()
