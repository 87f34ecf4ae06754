"""Requests without a valid API key are limited per network address (shops.rest.throttling.bad_key_refusal): 20 at
once, then one every 5 seconds, then 429 with Retry-After in the error format; on every API route, the lean hot
path included. Good requests never count, and a valid key is served whatever its address sent before."""

import json
from datetime import timedelta

import pytest
import redis
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from shops.rest import hotpath, throttling
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db

BAD = "hy_not-a-key-of-anyone"
ORDER = {
    "external_id": "TB001",
    "amount": "268.00",
    "paid_at": (timezone.now() - timedelta(days=1)).isoformat(),
    "items": [{"sku": "MB-001", "name": "婴儿湿巾", "category": "母婴", "quantity": 2, "unit_price": "134.00"}],
}


def client_with(authorization: str | None = None, ip: str = "203.0.113.7") -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


def test_bad_keys_from_one_address_get_401_twenty_times_then_429_with_retry_after(shop):
    client = client_with(f"Bearer {BAD}")

    answers = [client.get("/api/v1/shop/") for _ in range(21)]

    assert [a.status_code for a in answers] == [401] * 20 + [429]
    refused = answers[-1]
    assert refused["Retry-After"] == "5"
    assert refused.json()["code"] == "throttled"
    assert refused.json()["message"].startswith("Too many requests without a valid API key from your address.")
    assert refused.json()["details"] == {"retry_after": 5}


def test_the_lean_hot_path_refuses_bad_keys_the_same_way(shop, monkeypatch):
    taken = []
    plain = hotpath.plain_json_post
    monkeypatch.setattr(hotpath, "plain_json_post", lambda request: taken.append(plain(request)) or taken[-1])
    client = client_with(f"Bearer {BAD}")

    answers = [client.post("/api/v1/orders/", json.dumps(ORDER), content_type="application/json") for _ in range(21)]

    assert taken == [True] * 21  # every one of them took the lean path
    assert [a.status_code for a in answers] == [401] * 20 + [429]
    assert answers[-1]["Retry-After"] == "5" and answers[-1].json()["code"] == "throttled"


def test_missing_and_malformed_keys_count_as_failures_too(shop):
    clients = [
        client_with(None),
        client_with("Basic dXNlcjpwYXNz"),
        client_with("Bearer "),
        client_with(f"Bearer {BAD}"),
    ]
    with override_settings(API_BAD_KEY_BURST=4):
        answers = [c.get("/api/v1/members/").status_code for c in clients] + [
            clients[0].get("/api/v1/tiers/").status_code
        ]
    assert answers == [401, 401, 401, 401, 429]


def test_another_address_is_not_held_up(shop):
    with override_settings(API_BAD_KEY_BURST=2):
        assert [client_with(f"Bearer {BAD}").get("/api/v1/shop/").status_code for _ in range(3)] == [401, 401, 429]
        assert client_with(f"Bearer {BAD}", ip="198.51.100.1").get("/api/v1/shop/").status_code == 401


def test_a_valid_key_from_a_refused_address_is_served(shop):
    secret = make_api_key(shop)[1]
    with override_settings(API_BAD_KEY_BURST=2):
        assert [client_with(f"Bearer {BAD}").get("/api/v1/shop/").status_code for _ in range(3)] == [401, 401, 429]
        assert client_with(f"Bearer {secret}").get("/api/v1/shop/").status_code == 200
        good = client_with(f"Bearer {secret}")
        assert good.post("/api/v1/orders/", json.dumps(ORDER), content_type="application/json").status_code == 201


def test_good_requests_never_count(shop):
    good = client_with(f"Bearer {make_api_key(shop)[1]}")
    with override_settings(API_BAD_KEY_BURST=2):
        assert {good.get("/api/v1/shop/").status_code for _ in range(30)} == {200}
        assert [client_with(f"Bearer {BAD}").get("/api/v1/shop/").status_code for _ in range(3)] == [401, 401, 429]


def test_a_successful_hot_write_takes_only_its_keys_bucket(shop, monkeypatch):
    """The bad-key bucket costs the successful path nothing: one bucket (one Redis call with Redis), the key's."""
    taken = []
    take = throttling.bucket_take
    monkeypatch.setattr(throttling, "bucket_take", lambda key, **kw: taken.append(key) or take(key, **kw))
    api_key, secret = make_api_key(shop)

    answer = client_with(f"Bearer {secret}").post("/api/v1/orders/", json.dumps(ORDER), content_type="application/json")

    assert answer.status_code == 201
    assert len(taken) == 1 and taken[0].endswith(f":throttle:key:{api_key.pk}"), taken


def test_when_the_bucket_cannot_be_reached_a_bad_key_still_gets_its_401(shop, monkeypatch):
    def down(key, **kwargs):
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(throttling, "bucket_take", down)
    assert client_with(f"Bearer {BAD}").get("/api/v1/shop/").status_code == 401


def test_the_address_of_unauthenticated_pages_is_remote_addr_not_a_forwarded_header():
    with override_settings(API_THROTTLE_BURST=2, API_THROTTLE_RATE=0.01):  # no refill while the schema is built
        answers = [
            APIClient(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").get("/api/v1/schema/")
            for i in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 429]
