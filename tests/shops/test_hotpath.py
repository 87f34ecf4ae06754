"""The lean path of the hot API writes (shops.rest.hotpath) answers exactly what DRF answers: the same status,
headers and body for the same request on the same database, successes and errors alike; the requests it does not
take go through DRF."""

import json
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.views import APIView

from coupons.issuance import coupon_issue
from orders.models import Order
from shops.rest import authentication, hotpath
from shops.services import SYSTEM, apikey_revoke, shop_set_active
from tests.coupons.helpers import make_member, make_template
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
NOW = timezone.now().replace(microsecond=0)
ITEM = {"sku": "MB-001", "name": "婴儿湿巾", "category": "母婴", "quantity": 2, "unit_price": "134.00"}


def _order(**fields) -> str:
    body = {"external_id": "TB001", "amount": "268.00", "paid_at": (NOW - timedelta(days=2)).isoformat()}
    return json.dumps({**body, "items": [ITEM], **fields})


def _claims(member) -> str:
    return f"/api/v1/members/{member.pk}/coupons/"


def _client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _post(client, url: str, body: str, *, lean: bool, monkeypatch, **extra) -> tuple:
    if not lean:
        monkeypatch.setattr(hotpath, "plain_json_post", lambda request: False)
    response = client.post(url, body, content_type="application/json", **extra)
    monkeypatch.undo()
    return response.status_code, dict(response.headers), response.content


def _answer(shop, url: str, body: str, *, lean: bool, monkeypatch) -> tuple:
    """(status, headers, body) of one POST with a new key of `shop` (a full throttle bucket), at a fixed time, on a
    database left as it was found (the write is rolled back)."""
    client = _client(make_api_key(shop)[1])
    with time_machine.travel(NOW, tick=False), transaction.atomic():
        answer = _post(client, url, body, lean=lean, monkeypatch=monkeypatch)
        transaction.set_rollback(True)
    # The bucket's remaining count comes from two clock readings in floating point: it is left out of the comparison.
    answer[1].pop("RateLimit-Remaining", None)
    return answer


def _same_answers(shop, url: str, body: str, monkeypatch, *, hide=()) -> tuple:
    lean = _answer(shop, url, body, lean=True, monkeypatch=monkeypatch)
    drf = _answer(shop, url, body, lean=False, monkeypatch=monkeypatch)
    if hide:  # what differs by construction between two writes: new ids, random codes
        lean, drf = [(s, h, {k: v for k, v in json.loads(b).items() if k not in hide}) for s, h, b in (lean, drf)]
    assert lean == drf
    return lean


@pytest.fixture
def member(shop):
    return make_member(shop, 1, name="张三")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (_order(), 201, None),
        (_order(amount="-1"), 400, "invalid"),
        (_order(paid_at="2099-01-01T00:00:00+08:00"), 400, "paid_at_in_future"),
        ("null", 400, "invalid"),
        ("[1]", 400, "invalid"),
        ('{"external_id": ', 400, "parse_error"),
        ('{"amount": NaN}', 400, "parse_error"),
        ('{"external_id": "\\ud800"}', 400, "invalid"),
    ],
)
def test_an_order_is_answered_as_drf_answers_it(shop, member, monkeypatch, body, status, code):
    answered, headers, content = _same_answers(shop, ORDERS, body, monkeypatch)
    assert answered == status, content
    assert (headers["Content-Type"], headers["Allow"], headers["RateLimit-Limit"]) == (
        "application/json",
        "POST, OPTIONS",
        "100",
    )
    if code:
        assert json.loads(content)["code"] == code


def test_a_replayed_and_a_conflicting_order_are_answered_as_drf_answers_them(api_client, shop, member, monkeypatch):
    assert api_client.post(ORDERS, _order(), content_type="application/json").status_code == 201
    assert _same_answers(shop, ORDERS, _order(), monkeypatch)[0] == 200
    assert _same_answers(shop, ORDERS, _order(amount="1.00"), monkeypatch)[0] == 409


def test_a_claim_is_answered_as_drf_answers_it(shop, member, monkeypatch):
    template = make_template(shop, stock=100)
    body = json.dumps({"template_id": template.pk, "idempotency_key": "k1"})
    status, headers, answer = _same_answers(
        shop, _claims(member), body, monkeypatch, hide={"id", "code", "code_display"}
    )
    assert (status, headers["Allow"]) == (201, "GET, POST, HEAD, OPTIONS")
    assert answer["template"] == {"id": template.pk, "name": "满100减20", "kind": "amount_off"}


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("replay", 200, None),
        ("out_of_stock", 409, "out_of_stock"),
        ("limit", 409, "limit_reached"),
        ("key_reused", 409, "idempotency_conflict"),
        ("not_open", 409, "not_issuable"),
        ("unknown_template", 404, "not_found"),
        ("unknown_member_and_broken_body", 404, "not_found"),  # the URL's member is looked up before the body
        ("null", 400, "invalid"),
        ("bad_key", 400, "invalid"),
    ],
)
def test_claim_replays_and_refusals_are_answered_as_drf_answers_them(shop, member, monkeypatch, case, status, code):
    template = make_template(shop, stock=1 if case == "out_of_stock" else None, per_member_limit=1)
    url, body = _claims(member), {"template_id": template.pk, "idempotency_key": "k1"}
    if case in ("replay", "limit", "key_reused"):
        coupon_issue(shop=shop, member=member, template=template, idempotency_key="k1", source="claim")
    if case == "out_of_stock":
        coupon_issue(shop=shop, member=make_member(shop, 2), template=template, idempotency_key="k0", source="claim")
    body = {
        "limit": {**body, "idempotency_key": "k2"},
        "key_reused": {**body, "template_id": make_template(shop).pk},
        "not_open": {**body, "template_id": make_template(shop, claim_starts_at=NOW + timedelta(days=1)).pk},
        "unknown_template": {**body, "template_id": 10**9},
        "bad_key": {**body, "idempotency_key": "not a key#"},
    }.get(case, body)
    text = {"null": "null", "unknown_member_and_broken_body": "{"}.get(case, json.dumps(body))
    if case == "unknown_member_and_broken_body":
        url = "/api/v1/members/999999999/coupons/"
    answered, _headers, content = _same_answers(shop, url, text, monkeypatch)
    assert answered == status, content
    if code:
        assert json.loads(content)["code"] == code
    if case == "null":
        assert json.loads(content)["details"] == {"non_field_errors": ["No data provided"]}


def test_an_unknown_key_is_answered_as_drf_answers_it(shop, member, monkeypatch):
    client = _client("hy_no-such-key")
    lean = _post(client, ORDERS, _order(), lean=True, monkeypatch=monkeypatch)
    drf = _post(client, ORDERS, _order(), lean=False, monkeypatch=monkeypatch)
    assert lean == drf
    status, headers, content = lean
    assert (status, headers["WWW-Authenticate"], json.loads(content)["code"]) == (
        401,
        'Bearer realm="api"',
        "authentication_failed",
    )


def test_a_frozen_shop_is_answered_as_drf_answers_it(shop, member, monkeypatch):
    shop_set_active(shop=shop, actor=SYSTEM, active=False)
    status, _headers, content = _same_answers(shop, ORDERS, _order(), monkeypatch)
    assert (status, json.loads(content)["code"]) == (403, "shop_frozen")


def test_a_throttled_write_is_answered_as_drf_answers_it(shop, member, monkeypatch):
    answers = []
    with override_settings(API_THROTTLE_RATE=0.001, API_THROTTLE_BURST=1):
        for lean in (True, False):
            client = _client(make_api_key(shop)[1])
            assert client.get("/api/v1/shop/").status_code == 200  # takes the bucket's one request
            answers.append(_post(client, ORDERS, _order(), lean=lean, monkeypatch=monkeypatch))
    assert answers[0] == answers[1]
    status, headers, content = answers[0]
    assert (status, headers["Retry-After"], headers["RateLimit-Remaining"]) == (429, "1000", "0")
    assert json.loads(content)["details"] == {"retry_after": 1000}
    assert Order.objects.count() == 0


def test_plain_writes_skip_drf_and_other_requests_go_through_it(api_client, member, monkeypatch):
    def no_drf(*args, **kwargs):
        raise AssertionError("DRF's initial() ran")

    monkeypatch.setattr(APIView, "initial", no_drf)
    assert api_client.post(ORDERS, _order(), content_type="application/json").status_code == 201
    assert api_client.post(ORDERS, _order(), content_type="application/json", HTTP_ACCEPT="*/*").status_code == 200
    monkeypatch.undo()
    # DRF answers what the lean path does not take: content negotiation, another charset, a query string
    refused = api_client.post(ORDERS, _order(), content_type="application/json", HTTP_ACCEPT="text/html")
    assert (refused.status_code, refused.json()["code"]) == (406, "not_acceptable")
    gbk = api_client.post(
        ORDERS, _order(external_id="TB002").encode("gbk"), content_type="application/json; charset=gbk"
    )
    assert gbk.status_code == 201 and gbk.json()["items"] == [ITEM]
    query = api_client.post(f"{ORDERS}?x=1", _order(external_id="TB003"), content_type="application/json")
    assert query.status_code == 201


@pytest.mark.parametrize("length", ["¹²", "１２", "-12", "99999999999999999999", ""])
def test_a_content_length_other_than_ascii_digits_within_the_limit_goes_through_drf(rf, length):
    request = rf.post(ORDERS, _order(), content_type="application/json", HTTP_AUTHORIZATION="Bearer k")
    request.META["CONTENT_LENGTH"] = length
    assert hotpath.plain_json_post(request) is False
    request.META["CONTENT_LENGTH"] = str(len(_order()))
    assert hotpath.plain_json_post(request) is True


def test_every_lean_write_takes_from_the_keys_bucket(api_client, member):
    with override_settings(API_THROTTLE_RATE=0.001, API_THROTTLE_BURST=2):
        statuses = [
            api_client.post(
                ORDERS, _order(external_id=f"T{uuid.uuid4().hex[:8]}"), content_type="application/json"
            ).status_code
            for _ in range(3)
        ]
    assert statuses == [201, 201, 429]


# --- The key as the hot writes remember it -------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """The monotonic clock the remembered keys expire by, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: now[0])
    return now


@override_settings(API_KEY_CACHE_SECONDS=5)
def test_a_revoked_key_stops_writing_within_the_cache_delay(api_client, api_key, shop, member, clock):
    # given: the key used once by a hot write
    assert api_client.post(ORDERS, _order(external_id="T1"), content_type="application/json").status_code == 201

    # when: it is revoked
    apikey_revoke(shop=shop, actor=SYSTEM, api_key=api_key[0])

    # then: every other endpoint refuses it at once; the hot writes once the delay is over
    assert api_client.get("/api/v1/shop/").status_code == 401
    clock[0] += 4.9
    assert api_client.post(ORDERS, _order(external_id="T2"), content_type="application/json").status_code == 201
    clock[0] += 0.2
    refused = api_client.post(ORDERS, _order(external_id="T3"), content_type="application/json")
    assert (refused.status_code, refused.json()["code"]) == (401, "authentication_failed")
    assert list(Order.objects.order_by("external_id").values_list("external_id", flat=True)) == ["T1", "T2"]


@override_settings(API_KEY_CACHE_SECONDS=5)
def test_a_frozen_shop_stops_writing_within_the_cache_delay(api_client, shop, member, clock):
    assert api_client.post(ORDERS, _order(external_id="T1"), content_type="application/json").status_code == 201
    shop_set_active(shop=shop, actor=SYSTEM, active=False)
    clock[0] += 5.1
    refused = api_client.post(ORDERS, _order(external_id="T2"), content_type="application/json")
    assert (refused.status_code, refused.json()["code"]) == (403, "shop_frozen")
    assert Order.objects.count() == 1


@override_settings(API_KEY_CACHE_SECONDS=0)
def test_without_the_cache_a_revoked_key_stops_writing_at_once(api_client, api_key, shop, member, clock):
    assert api_client.post(ORDERS, _order(external_id="T1"), content_type="application/json").status_code == 201
    apikey_revoke(shop=shop, actor=SYSTEM, api_key=api_key[0])
    assert api_client.post(ORDERS, _order(external_id="T2"), content_type="application/json").status_code == 401


def test_an_unknown_key_is_not_remembered(shop, member, clock):
    # given: a secret refused once
    _key, secret = make_api_key(shop)
    stranger = _client(secret + "x")
    assert stranger.post(ORDERS, _order(), content_type="application/json").status_code == 401

    # then: the real key works at once, and the refused one stays refused
    assert _client(secret).post(ORDERS, _order(), content_type="application/json").status_code == 201
    assert stranger.post(ORDERS, _order(), content_type="application/json").status_code == 401


def test_a_remembered_key_still_records_its_use(api_client, api_key, member, clock):
    key, _secret = api_key
    api_client.post(ORDERS, _order(), content_type="application/json")
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert (timezone.now() - key.last_used_at).total_seconds() < 5
