"""Redis down: what must stay safe fails closed with a 503 and Retry-After (the API throttle, one-time codes,
referral velocity); what the cache only speeds up is computed without it (the member list, shared shopper pages,
channel statistics); /healthz names the cache.

Redis is "down" by pointing the cache and the throttle at a port where nothing listens: no real Redis needed."""

import socket
import time

import pytest
import redis

from members.models import Member
from members.services import Enrolment, member_enroll
from orders.models import Order
from recruitment.models import Referral
from recruitment.stats import channels_figures, visit_record
from shops.rest import throttling
from shops.sms import LocmemBackend
from tests.coupons.helpers import make_member
from tests.recruitment.helpers import invite_code, make_channel, program

pytestmark = pytest.mark.django_db

DEAD = "redis://127.0.0.1:1/0"  # nothing listens on port 1: every connection is refused at once


def take_redis_down(settings):
    """Point the cache and the throttle at the dead port (pytest-django's `settings` restores both after the test)."""
    settings.REDIS_URL = DEAD
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEAD}}
    throttling._redis_script.cache_clear()  # the throttle keeps its client at module level


@pytest.fixture
def redis_down(settings):
    take_redis_down(settings)
    yield
    throttling._redis_script.cache_clear()


def _unavailable_json(response):
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["message"]
    assert body["details"] == {"retry_after": int(response["Retry-After"])}


ORDER = {"external_id": "o-1", "phone": "13800138000", "amount": "100.00", "paid_at": "2024-05-01T10:00:00+08:00"}


def test_api_reads_and_writes_answer_503_with_retry_after_and_record_nothing(shop, api_client, redis_down):
    # the throttle cannot count: no request of any key is served
    _unavailable_json(api_client.get("/api/v1/tiers/"))
    _unavailable_json(api_client.post("/api/v1/orders/", ORDER, format="json"))  # the lean path of the hot write
    _unavailable_json(api_client.post("/api/v1/members/", {"phone": "13800138001"}, format="json"))  # DRF's path
    assert not Order.objects.filter(shop=shop).exists()
    assert not Member.objects.filter(shop=shop).exists()


def test_shopper_code_sending_answers_503_and_sends_no_sms(shop, client, redis_down):
    # the page's script gets the API's error format
    response = client.post(f"/m/{shop.slug}/code/", {"phone": "13800138000"}, HTTP_ACCEPT="application/json")
    _unavailable_json(response)

    # a plain form post gets the translated page (the shop speaks zh-Hans)
    response = client.post(f"/m/{shop.slug}/code/", {"phone": "13800138000"})
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert "服务暂时不可用" in response.content.decode()
    assert LocmemBackend.outbox == []


def test_code_checking_answers_503(shop, client, redis_down):
    response = client.post(f"/m/{shop.slug}/login/", {"phone": "13800138000", "code": "123456"})
    assert response.status_code == 503


def test_a_referral_join_fails_closed_and_writes_nothing(shop, settings):
    # given an inviter, enrolled while Redis was up, and a referral program with an address limit
    inviter = make_member(shop, 1)
    program(shop)
    code = invite_code(shop, inviter)

    # when Redis is down, the address limit cannot be counted: the join is refused as a whole
    take_redis_down(settings)
    with pytest.raises(redis.ConnectionError):
        member_enroll(shop=shop, data=Enrolment(phone="13800138002", referrer_code=code, ip="198.51.100.7"))

    # then nothing is written: no member, no referral, no reward
    assert list(Member.objects.filter(shop=shop).values_list("pk", flat=True)) == [inviter.pk]
    assert not Referral.objects.filter(shop=shop).exists()
    inviter.refresh_from_db()
    assert inviter.points_balance == 0


def test_the_member_list_renders_without_the_cache(shop, owner_client, redis_down):
    make_member(shop, 1, name="韩梅梅")
    response = owner_client.get(f"/dashboard/{shop.slug}/members/")
    assert response.status_code == 200
    assert "韩梅梅" in response.content.decode()


def test_shared_shopper_pages_and_channel_visits_work_without_the_cache(shop, client, settings):
    channel = make_channel(shop)
    take_redis_down(settings)

    # the landing page (a shared page, kept rendered in the cache) renders; the visit is not counted
    assert client.get(f"/j/{channel.code}/").status_code == 200
    assert client.get(f"/m/{shop.slug}/").status_code == 200
    visit_record(shop=shop, channel=channel, visitor="v1")
    assert channels_figures(shop=shop, channel_ids=[channel.pk])[channel.pk].visits == 0


def test_healthz_answers_503_naming_the_cache(client, redis_down):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["failed"] == ["cache"]
    assert body["database"] == "ok"
    assert body["cache"].startswith("error: ConnectionError")


@pytest.fixture
def silent_redis():
    """A port that accepts connections and never answers, as a hung Redis or a half-open network path."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


def test_a_redis_that_never_answers_is_down_after_redis_timeout(shop, api_client, settings, silent_redis):
    settings.REDIS_URL = silent_redis
    settings.REDIS_OPTIONS = {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}
    throttling._redis_script.cache_clear()
    try:
        started = time.monotonic()
        _unavailable_json(api_client.get("/api/v1/tiers/"))
        assert time.monotonic() - started < 3
    finally:
        throttling._redis_script.cache_clear()


def test_no_dashboard_page_is_a_500_without_redis(shop, owner_client, redis_down):
    """Every dashboard page (those that need no object) renders, computing without the cache, or answers 503."""
    from django.urls import reverse

    from tests.routes import tenant_routes

    pages = [r for r in tenant_routes() if r.name.startswith("dashboard:") and r.params <= {"shop_slug"}]
    answers = {}
    for route in pages:
        if "get" in route.methods:
            args = [shop.slug] if route.params else []
            answers[route.name] = owner_client.get(reverse(route.name, args=args)).status_code
    assert len(answers) > 20
    assert {name: status for name, status in answers.items() if status not in (200, 302)} == {}
