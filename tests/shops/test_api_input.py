"""What the API does with bodies it cannot take (issue 16, item 6): nesting too deep for a parser gets a 400 in the
one error format on every route, the lean path included; nothing is stored."""

import json

import pytest
from django.utils import timezone

from members.models import Member
from orders.models import Order
from shops.rest import hotpath
from shops.roles import Role
from tests.pages import staff_client, url

pytestmark = pytest.mark.django_db


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
