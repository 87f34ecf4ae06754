"""The API's key authentication and its single error format {"code", "message", "details"}."""

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from shops.models import ApiKey
from shops.services import SYSTEM, apikey_revoke, audit_record, shop_set_active

pytestmark = pytest.mark.django_db


def _assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert body["message"]
    return body


def test_no_key_is_401_in_the_error_format():
    response = APIClient().get("/api/v1/shop/")
    _assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("header", ["Bearer hy_not-a-real-key", "Bearer nonsense", "Token abc", "Bearer "])
def test_a_bad_key_is_401(header, shop):
    response = APIClient().get("/api/v1/shop/", HTTP_AUTHORIZATION=header)
    _assert_error(response, 401, "authentication_failed")


def test_a_valid_key_reaches_its_own_shop_and_records_its_use(api_client, api_key, shop, other_shop):
    response = api_client.get("/api/v1/shop/")
    assert response.status_code == 200
    assert response.json() == {
        "id": shop.pk,
        "name": "甲店",
        "slug": "shop-a",
        "currency": "CNY",
        "time_zone": "Asia/Shanghai",
        "locale": "zh-hans",
        "colour": "#C8102E",
    }
    key, _secret = api_key
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert (timezone.now() - key.last_used_at).total_seconds() < 5


def test_a_revoked_key_is_refused_at_once(api_client, api_key, shop):
    assert api_client.get("/api/v1/shop/").status_code == 200
    apikey_revoke(shop=shop, actor=SYSTEM, api_key=api_key[0])
    _assert_error(api_client.get("/api/v1/shop/"), 401, "authentication_failed")


def test_a_frozen_shops_key_is_403(api_client, shop):
    shop_set_active(shop=shop, actor=SYSTEM, active=False)
    _assert_error(api_client.get("/api/v1/shop/"), 403, "shop_frozen")


def test_the_secret_is_not_stored(api_key):
    key, secret = api_key
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert secret not in str(stored)
    assert stored["prefix"] == secret[:10]


def test_an_unknown_api_route_is_404_in_the_error_format(api_client):
    _assert_error(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_a_wrong_method_is_405(api_client):
    response = api_client.delete("/api/v1/shop/")
    _assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


@override_settings(ROOT_URLCONF="tests.shops.probe_urls")
def test_invalid_fields_are_400_with_each_field_named(api_client):
    body = _assert_error(api_client.post("/api/v1/test/validate/", {"amount": "-1"}, format="json"), 400, "invalid")
    assert set(body["details"]) == {"amount", "phone"}


@override_settings(ROOT_URLCONF="tests.shops.probe_urls")
def test_malformed_json_is_400_parse_error(api_client):
    response = api_client.post("/api/v1/test/validate/", "{not json", content_type="application/json")
    _assert_error(response, 400, "parse_error")


@override_settings(ROOT_URLCONF="tests.shops.probe_urls")
def test_a_domain_error_keeps_its_code_status_and_details(api_client):
    body = _assert_error(api_client.post("/api/v1/test/conflict/"), 409, "already_redeemed")
    assert body == {"code": "already_redeemed", "message": "Already redeemed.", "details": {"coupon": "X"}}


@override_settings(ROOT_URLCONF="tests.shops.probe_urls")
def test_a_django_validation_error_is_400(api_client):
    body = _assert_error(api_client.post("/api/v1/test/django-validation/"), 400, "invalid")
    assert body["details"] == {"slug": ["Taken."]}


@override_settings(ROOT_URLCONF="tests.shops.probe_urls")
def test_a_missing_object_is_404(api_client):
    _assert_error(api_client.get("/api/v1/test/missing/"), 404, "not_found")


@override_settings(ROOT_URLCONF="tests.shops.probe_urls")
def test_an_unexpected_error_is_500_in_the_error_format(api_key):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    _assert_error(client.get("/api/v1/test/broken/"), 500, "server_error")


def test_messages_follow_accept_language(shop):
    english = APIClient().get("/api/v1/shop/", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["message"] == "Send your API key as `Authorization: Bearer <api key>`."


def test_the_schema_and_docs_are_served_without_a_key():
    client = APIClient()
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/shop/" in schema.json()["paths"]
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "https://" not in html and "http://" not in html.replace("http://testserver", "")


@override_settings(ROOT_URLCONF="tests.shops.probe_urls")
def test_lists_are_cursor_paginated_newest_first_and_hold_only_the_keys_shop(api_client, shop, other_shop):
    # given: 5 entries in shop A (shop.create, apikey.create + 3 more) and some in shop B
    for i in range(3):
        audit_record(shop=shop, actor=SYSTEM, action=f"test.{i}")
        audit_record(shop=other_shop, actor=SYSTEM, action="test.other")
    # when: paging two at a time
    seen, url = [], "/api/v1/test/audit/?limit=2"
    while url:
        page = api_client.get(url).json()
        assert len(page["results"]) <= 2
        seen += [row["action"] for row in page["results"]]
        url = page["next"]
    # then
    assert seen == ["test.2", "test.1", "test.0", "apikey.create", "shop.create"]
