"""Per-key throttling: bursts of API_THROTTLE_BURST, then API_THROTTLE_RATE per second, answered with 429 and the
RateLimit headers. Runs against Redis when REDIS_URL is set (CI), else against the in-process buckets."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from shops.rest.throttling import bucket_take
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db


def test_the_default_allows_20_per_second_with_bursts_of_100():
    assert settings.API_THROTTLE_RATE >= 20
    assert settings.API_THROTTLE_BURST >= 100


def test_a_burst_is_allowed_then_429_with_retry_after(shop):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(shop)[1]}")
    with override_settings(API_THROTTLE_RATE=0.5, API_THROTTLE_BURST=3):
        answers = [client.get("/api/v1/shop/") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a["RateLimit-Limit"] == "3" for a in answers)
    refused = answers[-1]
    assert refused.json()["code"] == "throttled"
    assert refused.json()["details"]["retry_after"] == 2
    assert refused["Retry-After"] == "2"


def test_each_key_has_its_own_bucket(shop, other_shop):
    first, second = APIClient(), APIClient()
    first.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(shop)[1]}")
    second.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(other_shop)[1]}")
    with override_settings(API_THROTTLE_RATE=0.5, API_THROTTLE_BURST=2):
        assert [first.get("/api/v1/shop/").status_code for _ in range(3)] == [200, 200, 429]
        assert second.get("/api/v1/shop/").status_code == 200


def test_the_bucket_refills_at_the_rate():
    key = f"test:{uuid.uuid4()}"
    assert [bucket_take(key, rate=20, burst=2).allowed for _ in range(3)] == [True, True, False]
    time.sleep(0.06)  # one interval at 20/s is 0.05 s
    assert bucket_take(key, rate=20, burst=2).allowed is True
    assert bucket_take(key, rate=20, burst=2).allowed is False


def test_concurrent_requests_never_exceed_the_burst():
    # given: a bucket of 50 that refills negligibly during the test
    key = f"test:{uuid.uuid4()}"

    # when: 8 threads take 200 times between them
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: bucket_take(key, rate=0.01, burst=50).allowed, range(200)))

    # then: exactly the burst got through
    assert results.count(True) == 50


def test_the_redis_bucket_is_used_when_redis_is_configured():
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    import redis

    key = f"{settings.CACHES['default']['KEY_PREFIX']}:test:{uuid.uuid4()}"
    bucket_take(key, rate=1, burst=5)
    assert redis.Redis.from_url(settings.REDIS_URL).exists(key) == 1
