"""What the API does with bodies it cannot take (issue 16, items 6 and 7): nesting too deep for a parser and bodies
too large to read get a 4xx in the one error format on every route, the lean path included; nothing is stored."""

import json

import pytest
from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.test import RequestFactory, override_settings
from django.utils import timezone

from config import urls
from members.models import Member
from members.services import Enrolment, member_enroll
from orders.models import Order
from shops.rest import hotpath
from shops.roles import Role
from tests.pages import staff_client, url

pytestmark = pytest.mark.django_db

TEN_MB = 10_000_000


def _nested(depth: int) -> str:
    """A JSON array `depth` levels deep: [[[...]]]."""
    return "[" * depth + "]" * depth


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code and body["message"]
    return body


def _order(external_id: str = "TB001") -> dict:
    return {"external_id": external_id, "amount": "268.00", "paid_at": timezone.now().isoformat()}


# --- Nesting (item 6) ----------------------------------------------------------------------------------------------


def test_a_body_nested_100000_levels_deep_is_400_parse_error(api_client, shop):
    body = '{"phone": "13800138000", "consents": ' + _nested(100_000) + "}"

    response = api_client.post("/api/v1/members/", body, content_type="application/json")

    error = _assert_error(response, 400, "parse_error")
    assert "64" in error["message"]  # shops.rest.parsers.MAX_DEPTH
    assert not Member.objects.filter(shop=shop).exists()


def test_a_deeply_nested_order_on_the_lean_path_is_400_parse_error(api_client, shop):
    body = json.dumps({**_order(), "items": "X"}).replace('"X"', _nested(30_000))
    assert len(body) <= hotpath.MAX_BODY  # a plain request the lean path parses itself

    response = api_client.post("/api/v1/orders/", body, content_type="application/json")

    _assert_error(response, 400, "parse_error")
    assert not Order.objects.filter(shop=shop).exists()


def test_nesting_is_refused_from_one_level_past_the_limit_well_before_json_itself_fails(api_client, shop):
    from shops.rest.parsers import MAX_DEPTH

    # MAX_DEPTH levels in all parse (the consents are then refused as not an object of booleans); one more does not
    within = '{"phone": "13800138000", "consents": ' + _nested(MAX_DEPTH - 1) + "}"
    beyond = '{"phone": "13800138000", "consents": ' + _nested(MAX_DEPTH) + "}"

    kept = api_client.post("/api/v1/members/", within, content_type="application/json")
    refused = api_client.post("/api/v1/members/", beyond, content_type="application/json")

    assert _assert_error(kept, 400, "invalid")["details"].keys() == {"consents"}
    _assert_error(refused, 400, "parse_error")
    assert not Member.objects.filter(shop=shop).exists()


def test_the_depth_check_counts_containers_of_both_kinds():
    from shops.rest.parsers import TooDeep, json_depth_check, json_loads_bounded

    assert json_depth_check({"a": [{"b": [1, "x", None]}]}, limit=4) == {"a": [{"b": [1, "x", None]}]}
    assert json_depth_check("scalar", limit=1) == "scalar"
    with pytest.raises(TooDeep):
        json_depth_check({"a": [{"b": []}]}, limit=3)
    with pytest.raises(TooDeep):
        json_loads_bounded(_nested(100_000))  # beyond what json's own recursion survives


def test_the_segment_count_preview_refuses_deep_json_with_its_clear_error(client, shop):
    staff_client(client, shop, Role.ANALYST)
    body = '{"definition": {"genders": ' + _nested(9_000) + "}}"

    response = client.post(url("segment_count", shop), body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert response.json() == {"error": "The filter is nested too deeply."}


# --- Size (item 7) -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/orders/bulk/"),
        ("post", "/api/v1/orders/"),  # over the lean path's 64 KiB: DRF's path, as every large body
        ("post", "/api/v1/members/"),
        ("patch", "/api/v1/members/{id}/"),
        ("post", "/api/v1/channels/"),
    ],
)
def test_a_10_mb_body_is_413_in_the_error_format_and_nothing_is_stored(api_client, shop, method, path):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三"))
    body = json.dumps({"orders": [_order()], "name": "x" * TEN_MB})

    response = getattr(api_client, method)(path.format(id=member.pk), body, content_type="application/json")

    error = _assert_error(response, 413, "request_too_large")
    assert error["details"] == {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    assert not Order.objects.filter(shop=shop).exists()
    member.refresh_from_db()
    assert (Member.objects.filter(shop=shop).count(), member.name) == (1, "张三")


def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_not(api_client, shop):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    batch = json.dumps({"orders": [_order()]})
    at_limit = batch + " " * (limit - len(batch))  # blank space is valid JSON

    refused = api_client.post("/api/v1/orders/bulk/", at_limit + " ", content_type="application/json")
    read = api_client.post("/api/v1/orders/bulk/", at_limit, content_type="application/json")

    _assert_error(refused, 413, "request_too_large")
    assert read.status_code == 200, read.content[:300]
    assert read.json() == {"created": 1, "duplicates": 0, "errors": []}


def test_the_largest_legitimate_bulk_batch_fits_under_the_body_limit():
    """SPEC 10: up to 1,000 orders a batch. With 10 items each under long Chinese titles, \\u-escaped and indented
    as json.dumps(indent=2) writes them (the largest spelling a client library produces), settings says 5.8 MB."""
    title = ("婴儿湿巾超柔一百抽十包装家庭实惠装" * 4)[:60]
    orders = [
        {
            **_order(f"TB2026112300{i:08d}"),
            "phone": "+8613800138000",
            "amount": "12345.67",
            "status": "completed",
            "items": [
                {
                    "sku": f"SKU-{i}-{j:04d}-ABCDEFGH",
                    "name": title,
                    "category": "母婴用品",
                    "quantity": 12,
                    "unit_price": "1234.56",
                }
                for j in range(10)
            ],
        }
        for i in range(1000)
    ]

    size = len(json.dumps({"orders": orders}, indent=2).encode())

    assert 5_500_000 < size < settings.DATA_UPLOAD_MAX_MEMORY_SIZE < TEN_MB


@override_settings(ALLOWED_HOSTS=["testserver"])
def test_a_request_django_refuses_before_any_view_is_answered_in_the_error_format_under_api(api_client):
    response = api_client.get("/api/v1/shop/", HTTP_HOST="attacker.example")

    _assert_error(response, 400, "bad_request")


def test_the_400_handler_answers_a_too_large_body_under_api_with_413_and_elsewhere_with_djangos_page():
    factory = RequestFactory()

    api = urls.handler400(factory.post("/api/v1/orders/"), RequestDataTooBig("too big"))
    other = urls.handler400(factory.post("/dashboard/"), DisallowedHost("bad host"))

    assert (api.status_code, json.loads(api.content)["code"]) == (413, "request_too_large")
    assert other.status_code == 400 and other["Content-Type"].startswith("text/html")


def test_a_10_mb_form_on_a_dashboard_page_is_djangos_400_not_a_500(client, shop):
    response = client.post("/accounts/login/", {"email": "x" * TEN_MB, "password": "y"})

    assert response.status_code == 400
