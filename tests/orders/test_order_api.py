"""The orders API (SPEC sections 10 and 11): record, bulk, status change, refunds. Exact bodies and aggregates;
every refusal is a clear 4xx that stores nothing; no input gives a 500."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone
from rest_framework.test import APIClient

from members.models import Member
from members.services import Enrolment, member_enroll
from orders.models import Order, OrderItem, Refund
from orders.services import OrderInput, order_record
from shops.models import Shop
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db

AGGREGATES = ("lifetime_spend", "order_count", "first_order_at", "last_order_at", "spend_12m", "orders_12m")
ITEM = {"sku": "MB-001", "name": "婴儿湿巾", "category": "母婴", "quantity": 2, "unit_price": "134.00"}


def _iso(moment: datetime) -> str:
    return timezone.localtime(moment).isoformat()


@pytest.fixture
def paid_at():
    return (timezone.now() - timedelta(days=2)).replace(microsecond=0)


@pytest.fixture
def member(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三"))
    return member


def _order(paid_at: datetime, **fields) -> dict:
    return {"external_id": "TB001", "amount": "268.00", "paid_at": _iso(paid_at), "items": [ITEM], **fields}


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert body["message"]
    return body


def _aggregates(member: Member) -> dict:
    return dict(zip(AGGREGATES, Member.objects.filter(pk=member.pk).values_list(*AGGREGATES).get(), strict=True))


def _tables() -> tuple:
    """Every row a refused write must leave alone: orders, items, refunds and members (with their aggregates)."""
    return (
        sorted(tuple(sorted(model_to_dict(o).items())) for o in Order.objects.all()),
        sorted(OrderItem.objects.values_list("order_id", "sku", "quantity", "unit_price")),
        sorted(Refund.objects.values_list("external_id", "order_id", "amount")),
        sorted(tuple(sorted(model_to_dict(m, exclude=["updated_at"]).items())) for m in Member.objects.all()),
    )


def _client_for(shop) -> APIClient:
    _key, secret = make_api_key(shop, name="other")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _join_on_purchase(shop):
    Shop.objects.filter(pk=shop.pk).update(join_on_purchase=True)


# -- POST /orders/ -----------------------------------------------------------------------------------------------


def test_record_answers_201_with_the_order(api_client, shop, member, paid_at):
    response = api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")

    assert response.status_code == 201, response.content
    assert response.json() == {
        "external_id": "TB001",
        "member_id": member.pk,
        "amount": "268.00",
        "refunded_amount": "0.00",
        "status": "paid",
        "paid_at": _iso(paid_at),
        "completed_at": None,
        "points_earned": 268,  # one point per whole yuan (the default program)
        "items": [ITEM],
    }
    order = Order.objects.get()
    assert (order.shop_id, order.member_id, order.amount, order.paid_at) == (
        shop.pk,
        member.pk,
        Decimal("268.00"),
        paid_at,
    )
    assert _aggregates(member) == {
        "lifetime_spend": Decimal("268.00"),
        "order_count": 1,
        "first_order_at": paid_at,
        "last_order_at": paid_at,
        "spend_12m": Decimal("268.00"),
        "orders_12m": 1,
    }


@pytest.mark.parametrize("status", ["paid", "completed"])
def test_the_recorded_order_answer_is_the_order_as_the_detail_endpoint_renders_it(api_client, member, paid_at, status):
    # the record endpoint renders from the input (no items query); it must say exactly what GET says
    body = _order(paid_at, member_id=member.pk, status=status, amount="300.5")
    body["items"] = [ITEM, {"sku": "B-2", "name": "奶粉", "category": "母婴", "quantity": 3, "unit_price": "10.5"}]
    created = api_client.post("/api/v1/orders/", body, format="json")
    replay = api_client.post("/api/v1/orders/", body, format="json")
    detail = api_client.get("/api/v1/orders/TB001/")
    assert created.json() == replay.json() == detail.json()


@pytest.mark.parametrize("phone", ["13800138000", "138 0013 8000", "+86 13800138000", "8613800138000"])
def test_record_resolves_the_member_by_phone_in_any_format(api_client, member, paid_at, phone):
    response = api_client.post("/api/v1/orders/", _order(paid_at, phone=phone), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["member_id"] == member.pk
    assert _aggregates(member)["order_count"] == 1


def test_a_non_member_order_is_kept_with_member_id_null(api_client, member, paid_at):
    response = api_client.post("/api/v1/orders/", _order(paid_at, phone="13900139000"), format="json")
    assert response.status_code == 201
    assert response.json()["member_id"] is None
    assert list(Order.objects.values_list("external_id", "member_id")) == [("TB001", None)]
    assert Member.objects.count() == 1
    assert _aggregates(member)["order_count"] == 0


def test_an_order_without_buyer_is_kept_with_member_id_null(api_client, paid_at):
    response = api_client.post("/api/v1/orders/", _order(paid_at), format="json")
    assert response.status_code == 201
    assert response.json()["member_id"] is None


def test_join_on_purchase_enrols_the_buyer(api_client, shop, paid_at):
    _join_on_purchase(shop)

    response = api_client.post("/api/v1/orders/", _order(paid_at, phone="139 0013 9000"), format="json")

    assert response.status_code == 201
    buyer = Member.objects.get(shop=shop)
    assert (buyer.phone, buyer.join_channel) == ("+8613900139000", "purchase")
    assert response.json()["member_id"] == buyer.pk
    assert _aggregates(buyer) == {
        "lifetime_spend": Decimal("268.00"),
        "order_count": 1,
        "first_order_at": paid_at,
        "last_order_at": paid_at,
        "spend_12m": Decimal("268.00"),
        "orders_12m": 1,
    }
    # the enrolled buyer is a member like any other
    found = api_client.get("/api/v1/members/", {"phone": "13900139000"}).json()["results"]
    assert [(m["id"], m["join_channel"], m["order_count"]) for m in found] == [(buyer.pk, "purchase", 1)]


def test_without_join_on_purchase_no_one_is_enrolled(api_client, shop, paid_at):
    api_client.post("/api/v1/orders/", _order(paid_at, phone="13900139000"), format="json")
    assert Member.objects.count() == 0


def test_a_replay_answers_200_with_the_first_result_and_records_nothing(api_client, member, paid_at):
    first = api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")
    before = _tables()

    again = api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert _tables() == before


def test_a_replay_may_spell_the_same_values_differently(api_client, member, paid_at):
    first = api_client.post("/api/v1/orders/", _order(paid_at, phone="13800138000", amount="268"), format="json")
    before = _tables()
    again = _order(paid_at, phone="+86 138-0013-8000", amount="268.00", external_id=" TB001 ")
    again["paid_at"] = paid_at.astimezone(UTC).isoformat()
    again = api_client.post("/api/v1/orders/", again, format="json")
    assert (first.status_code, again.status_code) == (201, 200), again.content
    assert _tables() == before


def test_a_replay_of_a_completed_order_answers_the_first_result(api_client, paid_at):
    first = api_client.post("/api/v1/orders/", _order(paid_at, status="completed"), format="json")
    again = api_client.post("/api/v1/orders/", _order(paid_at, status="completed"), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert first.json()["completed_at"] == _iso(paid_at)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "268.01"},
        {"paid_at_shift": 1},
        {"status": "completed"},
        {"items": []},
        {"items": [{**ITEM, "quantity": 3}]},
        {"phone": "13800138000"},
    ],
)
def test_the_same_external_id_with_another_body_is_409_and_changes_nothing(api_client, member, paid_at, change):
    api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")
    before = _tables()
    body = _order(paid_at, member_id=member.pk)
    if "paid_at_shift" in change:
        body["paid_at"] = _iso(paid_at + timedelta(seconds=change.pop("paid_at_shift")))
    if "phone" in change:
        del body["member_id"]
    body.update(change)

    response = api_client.post("/api/v1/orders/", body, format="json")

    assert _error(response, 409, "order_conflict")["details"] == {"external_id": "TB001"}
    assert _tables() == before


BAD_ORDERS = [
    ("negative amount", {"amount": "-1.00"}, "invalid", "amount"),
    ("absurd amount", {"amount": "10000000000.00"}, "invalid", "amount"),
    ("absurd amount 2", {"amount": "99999999999999999999"}, "invalid", "amount"),
    ("three decimals", {"amount": "1.005"}, "invalid", "amount"),
    ("not a number", {"amount": "abc"}, "invalid", "amount"),
    ("NaN", {"amount": "NaN"}, "invalid", "amount"),
    ("infinity", {"amount": "Infinity"}, "invalid", "amount"),
    ("no amount", {"amount": None}, "invalid", "amount"),
    ("refunded", {"status": "refunded"}, "invalid", "status"),
    ("partially refunded", {"status": "partially_refunded"}, "invalid", "status"),
    ("bad status", {"status": "shipped"}, "invalid", "status"),
    ("bad time", {"paid_at": "yesterday"}, "invalid", "paid_at"),
    ("empty id", {"external_id": ""}, "invalid", "external_id"),
    ("long id", {"external_id": "x" * 65}, "invalid", "external_id"),
    ("malformed phone", {"phone": "12345"}, "invalid_phone", None),
    ("member id zero", {"member_id": 0}, "invalid", "member_id"),
    ("member id text", {"member_id": "abc"}, "invalid", "member_id"),
    ("quantity 0", {"items": [{**ITEM, "quantity": 0}]}, "invalid", "items"),
    ("negative quantity", {"items": [{**ITEM, "quantity": -1}]}, "invalid", "items"),
    ("negative unit price", {"items": [{**ITEM, "unit_price": "-0.01"}]}, "invalid", "items"),
    ("item without sku", {"items": [{"quantity": 1, "unit_price": "1.00"}]}, "invalid", "items"),
    ("item unknown field", {"items": [{**ITEM, "colour": "red"}]}, "invalid", "items"),
    ("items not a list", {"items": "MB-001"}, "invalid", "items"),
    ("item not an object", {"items": ["MB-001"]}, "invalid", "items"),
    ("unknown field", {"coupon": "X"}, "invalid", "coupon"),
]


@pytest.mark.parametrize(("change", "code", "field"), [c[1:] for c in BAD_ORDERS], ids=[c[0] for c in BAD_ORDERS])
def test_bad_input_is_400_and_stores_nothing(api_client, member, paid_at, change, code, field):
    before = _tables()
    body = {k: v for k, v in {**_order(paid_at, member_id=member.pk), **change}.items() if v is not None}
    if "phone" in change:
        del body["member_id"]

    response = api_client.post("/api/v1/orders/", body, format="json")

    details = _error(response, 400, code)["details"]
    if field:
        assert field in details
    assert _tables() == before


def test_an_order_paid_more_than_ten_minutes_ahead_is_400_paid_at_in_future(api_client, member):
    before = _tables()
    ahead = timezone.now() + timedelta(minutes=11)
    _error(
        api_client.post("/api/v1/orders/", _order(ahead, member_id=member.pk), format="json"), 400, "paid_at_in_future"
    )
    assert _tables() == before
    # a till a few minutes fast is fine
    soon = timezone.now() + timedelta(minutes=8)
    assert api_client.post("/api/v1/orders/", _order(soon, external_id="OK"), format="json").status_code == 201


def test_an_unknown_member_id_is_400_unknown_member(api_client, member, paid_at):
    before = _tables()
    body = _error(
        api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk + 100), format="json"),
        400,
        "unknown_member",
    )
    assert body["details"] == {"member_id": member.pk + 100}
    assert _tables() == before


def test_member_id_and_phone_together_are_400(api_client, member, paid_at):
    before = _tables()
    response = api_client.post(
        "/api/v1/orders/", _order(paid_at, member_id=member.pk, phone="13800138000"), format="json"
    )
    assert "non_field_errors" in _error(response, 400, "invalid")["details"]
    assert _tables() == before


@pytest.mark.parametrize("body", ['{"external_id": ', "external_id=TB001&amount=1", "\u00ff\u00fe", ""])
def test_a_body_that_is_not_json_is_400(api_client, body):
    response = api_client.post("/api/v1/orders/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"parse_error", "invalid"}
    assert Order.objects.count() == 0


@pytest.mark.parametrize("body", [[{"external_id": "TB001"}], "TB001", 42, None])
def test_a_json_body_that_is_not_an_object_is_400(api_client, body):
    import json

    response = api_client.post("/api/v1/orders/", json.dumps(body), content_type="application/json")
    _error(response, 400, "invalid")
    assert Order.objects.count() == 0


def test_an_out_of_range_member_id_is_a_400_not_a_500(api_client, paid_at):
    response = api_client.post("/api/v1/orders/", _order(paid_at, member_id=2**63), format="json")
    assert response.status_code == 400
    assert Order.objects.count() == 0


def test_a_nul_byte_in_the_order_path_is_not_a_500(api_client):
    assert api_client.get("/api/v1/orders/a%00b/").status_code == 404


def test_a_paid_at_before_1901_is_refused_or_rendered_as_rfc_3339(api_client):
    response = api_client.post(
        "/api/v1/orders/", {"external_id": "OLD", "amount": "78.00", "paid_at": "0273-06-03T10:51:34Z"}, format="json"
    )
    if response.status_code == 400:
        assert Order.objects.count() == 0
    else:
        assert re.search(r"(Z|[+-]\d\d:\d\d)$", response.json()["paid_at"]), response.json()["paid_at"]


def test_a_refund_dated_before_its_order_was_paid_is_refused(api_client, paid_at):
    api_client.post("/api/v1/orders/", _order(paid_at), format="json")
    response = api_client.post(
        "/api/v1/orders/TB001/refunds/",
        {"external_id": "R1", "amount": "1.00", "refunded_at": _iso(paid_at - timedelta(days=1))},
        format="json",
    )
    assert response.status_code == 400
    assert Refund.objects.count() == 0


# -- POST /orders/bulk/ ------------------------------------------------------------------------------------------


def test_bulk_keeps_good_orders_and_names_each_bad_one(api_client, shop, member, paid_at):
    # given: one recorded order
    api_client.post("/api/v1/orders/", _order(paid_at, external_id="OLD", member_id=member.pk), format="json")
    orders = [
        _order(paid_at, external_id="A1", member_id=member.pk, amount="10.00"),  # 0 new
        _order(paid_at, external_id="OLD", member_id=member.pk),  # 1 replay
        _order(paid_at, external_id="A2", amount="-5"),  # 2 bad amount
        _order(paid_at, external_id="A3", phone="13800138000", amount="20.00"),  # 3 new (member by phone)
        _order(paid_at, external_id="A4", member_id=member.pk + 50),  # 4 unknown member
        _order(paid_at, external_id="OLD", member_id=member.pk, amount="1.00"),  # 5 conflict with recorded
        _order(timezone.now() + timedelta(hours=2), external_id="A5"),  # 6 future
        _order(paid_at, external_id="A6", phone="12345"),  # 7 malformed phone
        _order(paid_at, external_id="A7", status="refunded"),  # 8 bad status
        {"external_id": "A8"},  # 9 missing fields
        _order(paid_at, external_id="A9", amount="30.00"),  # 10 new, anonymous
    ]

    response = api_client.post("/api/v1/orders/bulk/", {"orders": orders}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["duplicates"]) == (3, 1)
    assert [(e["index"], e["external_id"], e["code"]) for e in body["errors"]] == [
        (2, "A2", "invalid"),
        (4, "A4", "unknown_member"),
        (5, "OLD", "order_conflict"),
        (6, "A5", "paid_at_in_future"),
        (7, "A6", "invalid_phone"),
        (8, "A7", "invalid"),
        (9, "A8", "invalid"),
    ]
    assert all(e["message"] for e in body["errors"])
    assert sorted(Order.objects.values_list("external_id", "amount", "member_id")) == [
        ("A1", Decimal("10.00"), member.pk),
        ("A3", Decimal("20.00"), member.pk),
        ("A9", Decimal("30.00"), None),
        ("OLD", Decimal("268.00"), member.pk),
    ]
    aggregates = _aggregates(member)
    assert (aggregates["lifetime_spend"], aggregates["order_count"]) == (Decimal("298.00"), 3)


def test_bulk_twice_the_same_id_and_body_in_one_batch_is_one_created_and_one_duplicate(api_client, member, paid_at):
    order = _order(paid_at, member_id=member.pk)
    body = api_client.post("/api/v1/orders/bulk/", {"orders": [order, order]}, format="json").json()
    assert body == {"created": 1, "duplicates": 1, "errors": []}
    assert Order.objects.count() == 1
    assert _aggregates(member)["order_count"] == 1


def test_bulk_the_same_id_with_another_body_in_one_batch_refuses_the_second(api_client, member, paid_at):
    first = _order(paid_at, member_id=member.pk)
    second = _order(paid_at, member_id=member.pk, amount="1.00")
    body = api_client.post("/api/v1/orders/bulk/", {"orders": [first, second]}, format="json").json()
    assert (body["created"], body["duplicates"]) == (1, 0)
    assert [(e["index"], e["external_id"], e["code"]) for e in body["errors"]] == [(1, "TB001", "order_conflict")]
    assert list(Order.objects.values_list("amount", flat=True)) == [Decimal("268.00")]
    assert _aggregates(member)["lifetime_spend"] == Decimal("268.00")


@pytest.mark.parametrize("replay_first", [True, False], ids=["replay-then-conflict", "conflict-then-replay"])
@pytest.mark.parametrize("alone", [True, False], ids=["alone", "with-another-order"])
def test_bulk_an_exact_replay_is_a_duplicate_and_a_reused_id_with_another_body_the_conflict(
    api_client, member, paid_at, replay_first, alone
):
    # given: TB001 recorded; a batch holds its exact replay and another body under the same id, in either order
    recorded = _order(paid_at, member_id=member.pk)
    assert api_client.post("/api/v1/orders/", recorded, format="json").status_code == 201
    other = _order(paid_at, member_id=member.pk, amount="1.00")
    before = _tables()

    # when
    rows = [recorded, other] if replay_first else [other, recorded]
    if not alone:  # two ids: the batch looks for recorded orders before its insert instead of after
        rows.append(_order(paid_at, external_id="TB002", member_id=member.pk))
    body = api_client.post("/api/v1/orders/bulk/", {"orders": rows}, format="json").json()

    # then: each row is reported for what it is, and nothing else is written
    conflict_index = 1 if replay_first else 0
    assert (body["created"], body["duplicates"]) == (0 if alone else 1, 1)
    assert [(e["index"], e["external_id"], e["code"]) for e in body["errors"]] == [
        (conflict_index, "TB001", "order_conflict")
    ]
    if alone:
        assert _tables() == before
    assert Order.objects.get(external_id="TB001").amount == Decimal("268.00")
    assert _aggregates(member)["lifetime_spend"] == Decimal("268.00") * (1 if alone else 2)


def test_bulk_copies_of_an_id_recorded_by_the_batch_are_compared_with_what_it_recorded(api_client, member, paid_at):
    first = _order(paid_at, member_id=member.pk)
    other = _order(paid_at, member_id=member.pk, amount="1.00")

    body = api_client.post("/api/v1/orders/bulk/", {"orders": [first, other, first]}, format="json").json()

    assert (body["created"], body["duplicates"]) == (1, 1)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, "order_conflict")]
    assert list(Order.objects.values_list("amount", flat=True)) == [Decimal("268.00")]
    assert _aggregates(member)["order_count"] == 1


def test_bulk_a_second_identical_call_creates_nothing_and_counts_duplicates(api_client, member, paid_at):
    orders = [_order(paid_at, external_id=f"B{i}", member_id=member.pk, amount="1.50") for i in range(20)]
    first = api_client.post("/api/v1/orders/bulk/", {"orders": orders}, format="json").json()
    before = _tables()

    again = api_client.post("/api/v1/orders/bulk/", {"orders": orders}, format="json").json()

    assert first == {"created": 20, "duplicates": 0, "errors": []}
    assert again == {"created": 0, "duplicates": 20, "errors": []}
    assert _tables() == before
    assert _aggregates(member)["lifetime_spend"] == Decimal("30.00")


def test_bulk_takes_a_thousand_orders(api_client, member, paid_at):
    orders = [
        _order(paid_at - timedelta(minutes=i), external_id=f"K{i:04}", member_id=member.pk, amount="1.00", items=[])
        for i in range(1000)
    ]
    body = api_client.post("/api/v1/orders/bulk/", {"orders": orders}, format="json").json()
    assert body == {"created": 1000, "duplicates": 0, "errors": []}
    aggregates = _aggregates(member)
    assert (aggregates["lifetime_spend"], aggregates["order_count"]) == (Decimal("1000.00"), 1000)
    assert (aggregates["first_order_at"], aggregates["last_order_at"]) == (paid_at - timedelta(minutes=999), paid_at)


def test_bulk_refuses_1001_orders_whole_and_stores_nothing(api_client, member, paid_at):
    orders = [_order(paid_at, external_id=f"K{i:04}", member_id=member.pk, items=[]) for i in range(1001)]
    before = _tables()
    body = _error(api_client.post("/api/v1/orders/bulk/", {"orders": orders}, format="json"), 400, "invalid")
    assert "orders" in body["details"]
    assert _tables() == before


@pytest.mark.parametrize(
    "payload",
    [{"orders": []}, {}, {"orders": "TB001"}, {"orders": None}, [], {"orders": [], "dry_run": True}],
    ids=["empty list", "no orders", "not a list", "null", "a list", "unknown field"],
)
def test_bulk_refuses_an_empty_or_malformed_envelope(api_client, payload):
    _error(api_client.post("/api/v1/orders/bulk/", payload, format="json"), 400, "invalid")
    assert Order.objects.count() == 0


def test_bulk_refuses_a_body_that_is_not_json(api_client):
    response = api_client.post("/api/v1/orders/bulk/", '{"orders": [', content_type="application/json")
    _error(response, 400, "parse_error")


def test_bulk_error_messages_are_human_text(api_client, paid_at):
    body = api_client.post("/api/v1/orders/bulk/", {"orders": [_order(paid_at, amount="-1")]}, format="json").json()
    [error] = body["errors"]
    assert "ErrorDetail" not in error["message"]
    assert "[" not in error["message"]


def test_bulk_errors_name_the_external_id_as_a_string_or_null(api_client, paid_at):
    orders = [_order(paid_at, external_id=123, amount="-1"), _order(paid_at, external_id=["a"])]
    body = api_client.post("/api/v1/orders/bulk/", {"orders": orders}, format="json").json()
    assert [e["index"] for e in body["errors"]] == [0, 1]
    assert all(e["external_id"] is None or isinstance(e["external_id"], str) for e in body["errors"])


def test_bulk_a_row_that_is_not_an_object_is_named_and_the_good_rows_kept(api_client, paid_at):
    orders = ["TB001", _order(paid_at, external_id="GOOD"), 7]
    response = api_client.post("/api/v1/orders/bulk/", {"orders": orders}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], [e["index"] for e in body["errors"]]) == (1, [0, 2])


def test_bulk_orders_of_another_shops_members_are_unknown_members(api_client, other_shop, paid_at):
    theirs, _ = member_enroll(shop=other_shop, data=Enrolment(phone="13800138000"))
    body = api_client.post(
        "/api/v1/orders/bulk/", {"orders": [_order(paid_at, member_id=theirs.pk)]}, format="json"
    ).json()
    assert body["created"] == 0
    assert [e["code"] for e in body["errors"]] == ["unknown_member"]
    assert Order.objects.count() == 0
    assert _aggregates(theirs)["order_count"] == 0


def test_bulk_join_on_purchase_enrols_each_new_buyer_once(api_client, shop, paid_at):
    _join_on_purchase(shop)
    orders = [
        _order(paid_at, external_id="J1", phone="13900139000", amount="10.00"),
        _order(paid_at, external_id="J2", phone="+86 139 0013 9000", amount="20.00"),
        _order(paid_at, external_id="J3", phone="13700137000", amount="5.00"),
    ]
    body = api_client.post("/api/v1/orders/bulk/", {"orders": orders}, format="json").json()
    assert body == {"created": 3, "duplicates": 0, "errors": []}
    buyers = {m.phone: m for m in Member.objects.filter(shop=shop)}
    assert sorted(buyers) == ["+8613700137000", "+8613900139000"]
    assert {b.join_channel for b in buyers.values()} == {"purchase"}
    assert (
        _aggregates(buyers["+8613900139000"])["lifetime_spend"],
        _aggregates(buyers["+8613900139000"])["order_count"],
    ) == (
        Decimal("30.00"),
        2,
    )


# -- PATCH /orders/{external_id}/ --------------------------------------------------------------------------------


def test_completing_an_order_sets_completed_at(api_client, member, paid_at):
    api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")
    before = _aggregates(member)

    response = api_client.patch("/api/v1/orders/TB001/", {"status": "completed"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    order = Order.objects.get()
    assert (body["status"], order.status) == ("completed", "completed")
    assert abs(timezone.now() - order.completed_at) < timedelta(seconds=5)
    assert datetime.fromisoformat(body["completed_at"]) == order.completed_at
    assert _aggregates(member) == before


def test_cancelling_an_order_takes_it_out_of_the_members_aggregates(api_client, member, paid_at):
    api_client.post("/api/v1/orders/", _order(paid_at, external_id="KEEP", member_id=member.pk), format="json")
    api_client.post(
        "/api/v1/orders/", _order(paid_at, external_id="GO", member_id=member.pk, amount="100.00"), format="json"
    )

    response = api_client.patch("/api/v1/orders/GO/", {"status": "cancelled"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    aggregates = _aggregates(member)
    assert (aggregates["lifetime_spend"], aggregates["order_count"]) == (Decimal("268.00"), 1)
    assert (aggregates["spend_12m"], aggregates["orders_12m"]) == (Decimal("268.00"), 1)


@pytest.mark.parametrize(
    ("setup", "target"),
    [
        ("cancelled", "completed"),
        ("completed", "cancelled"),
        ("refunded", "completed"),
        ("refunded", "cancelled"),
        ("partially_refunded", "cancelled"),
    ],
)
def test_invalid_status_changes_are_409_and_change_nothing(api_client, member, paid_at, setup, target):
    api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")
    if setup in {"cancelled", "completed"}:
        api_client.patch("/api/v1/orders/TB001/", {"status": setup}, format="json")
    else:
        amount = "268.00" if setup == "refunded" else "1.00"
        api_client.post("/api/v1/orders/TB001/refunds/", {"external_id": "R", "amount": amount}, format="json")
    assert Order.objects.get().status == setup
    before = _tables()

    response = api_client.patch("/api/v1/orders/TB001/", {"status": target}, format="json")

    assert _error(response, 409, "invalid_status_change")["details"] == {"from": setup, "to": target}
    assert _tables() == before


@pytest.mark.parametrize("body", [{"status": "paid"}, {"status": "refunded"}, {}, {"status": "completed", "x": 1}])
def test_a_bad_status_change_body_is_400(api_client, paid_at, body):
    api_client.post("/api/v1/orders/", _order(paid_at), format="json")
    before = _tables()
    _error(api_client.patch("/api/v1/orders/TB001/", body, format="json"), 400, "invalid")
    assert _tables() == before


def test_changing_an_unknown_order_is_404(api_client, shop):
    _error(api_client.patch("/api/v1/orders/NOPE/", {"status": "completed"}, format="json"), 404, "not_found")
    _error(api_client.get("/api/v1/orders/NOPE/"), 404, "not_found")


def test_read_an_order(api_client, member, paid_at):
    created = api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json").json()
    response = api_client.get("/api/v1/orders/TB001/")
    assert response.status_code == 200
    assert response.json() == created


@pytest.mark.parametrize("external_id", ["bulk", "TB/2026/1", "TB?1", "TB#1", "50%", "..", "TB\t1"])
def test_an_order_id_that_cannot_be_an_address_segment_is_refused(api_client, paid_at, external_id):
    # /orders/{external_id}/ must reach the order later: an id it cannot carry is refused when recorded (a control
    # character, as in any text field, by the serializer first)
    response = api_client.post("/api/v1/orders/", _order(paid_at, external_id=external_id), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    if "\t" in external_id:
        assert (body["code"], list(body["details"])) == ("invalid", ["external_id"])
    else:
        assert body["code"] == "invalid_external_id"
    assert Order.objects.count() == 0


@pytest.mark.parametrize(("field", "char"), [("name", "\x1b"), ("category", "\u202e"), ("sku", "\x07")])
def test_an_item_with_a_control_or_text_direction_character_is_refused_and_nothing_stored(
    api_client, member, paid_at, field, char
):
    # given: a good order and one whose item holds the character, alone and in a batch
    bad = _order(paid_at, external_id="BAD", member_id=member.pk, items=[{**ITEM, field: f"婴儿{char}湿巾"}])
    good = _order(paid_at, external_id="GOOD", member_id=member.pk)
    before = _tables()

    # when
    single = api_client.post("/api/v1/orders/", bad, format="json")
    batch = api_client.post("/api/v1/orders/bulk/", {"orders": [good, bad]}, format="json").json()

    # then: the single order is a 400 on the field, the batch names the row and keeps the good order
    assert single.status_code == 400, single.content
    [message] = single.json()["details"]["items"]["0"][field]
    assert single.json()["details"] == {"items": {"0": {field: [message]}}} and "U+" in message
    assert (batch["created"], [(e["index"], e["code"]) for e in batch["errors"]]) == (1, [(1, "invalid")])
    assert batch["errors"][0]["message"].startswith(f"items.0.{field}: ")
    assert list(Order.objects.values_list("external_id", flat=True)) == ["GOOD"]
    assert before[0] == []


def test_an_order_id_with_dots_dashes_and_chinese_is_reachable(api_client, paid_at):
    assert (
        api_client.post("/api/v1/orders/", _order(paid_at, external_id="店1-TB.2026_1"), format="json").status_code
        == 201
    )
    response = api_client.patch("/api/v1/orders/店1-TB.2026_1/", {"status": "completed"}, format="json")
    assert response.status_code == 200, response.content


# -- POST /orders/{external_id}/refunds/ -------------------------------------------------------------------------


def test_partial_then_full_refunds_update_the_order_and_the_aggregates(api_client, member, paid_at):
    api_client.post(
        "/api/v1/orders/", _order(paid_at, external_id="KEEP", amount="32.00", member_id=member.pk), format="json"
    )
    api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")

    partial = api_client.post("/api/v1/orders/TB001/refunds/", {"external_id": "R1", "amount": "68"}, format="json")

    assert partial.status_code == 201, partial.content
    body = partial.json()
    refund = Refund.objects.get(external_id="R1")
    assert datetime.fromisoformat(body.pop("refunded_at")) == refund.refunded_at
    assert body == {
        "external_id": "R1",
        "order_external_id": "TB001",
        "amount": "68.00",
        "order_status": "partially_refunded",
        "order_refunded_amount": "68.00",
    }
    aggregates = _aggregates(member)
    assert (aggregates["lifetime_spend"], aggregates["order_count"]) == (Decimal("232.00"), 2)
    assert (aggregates["spend_12m"], aggregates["orders_12m"]) == (Decimal("232.00"), 2)

    full = api_client.post("/api/v1/orders/TB001/refunds/", {"external_id": "R2", "amount": "200.00"}, format="json")

    assert full.status_code == 201, full.content
    assert (full.json()["order_status"], full.json()["order_refunded_amount"]) == ("refunded", "268.00")
    order = Order.objects.get(external_id="TB001")
    assert (order.status, order.refunded_amount) == ("refunded", Decimal("268.00"))
    aggregates = _aggregates(member)
    assert (aggregates["lifetime_spend"], aggregates["order_count"]) == (Decimal("32.00"), 1)
    assert (aggregates["spend_12m"], aggregates["orders_12m"]) == (Decimal("32.00"), 1)


def test_a_refund_with_its_time_keeps_that_time(api_client, paid_at):
    api_client.post("/api/v1/orders/", _order(paid_at), format="json")
    when = paid_at + timedelta(hours=3)
    response = api_client.post(
        "/api/v1/orders/TB001/refunds/",
        {"external_id": "R1", "amount": "1.00", "refunded_at": _iso(when)},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["refunded_at"] == _iso(when)
    assert Refund.objects.get().refunded_at == when


def test_a_refund_replay_answers_200_with_the_same_refund_and_changes_nothing(api_client, member, paid_at):
    api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")
    first = api_client.post("/api/v1/orders/TB001/refunds/", {"external_id": "R1", "amount": "10.00"}, format="json")
    before = _tables()

    again = api_client.post("/api/v1/orders/TB001/refunds/", {"external_id": "R1", "amount": "10"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert _tables() == before


def test_a_refund_id_with_another_amount_is_409_and_changes_nothing(api_client, member, paid_at):
    api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")
    api_client.post("/api/v1/orders/TB001/refunds/", {"external_id": "R1", "amount": "10.00"}, format="json")
    before = _tables()
    response = api_client.post("/api/v1/orders/TB001/refunds/", {"external_id": "R1", "amount": "11.00"}, format="json")
    assert _error(response, 409, "refund_conflict")["details"] == {"external_id": "R1"}
    assert _tables() == before


def test_a_refund_above_what_is_left_is_400_and_changes_nothing(api_client, member, paid_at):
    api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")
    api_client.post("/api/v1/orders/TB001/refunds/", {"external_id": "R1", "amount": "200.00"}, format="json")
    before = _tables()
    response = api_client.post("/api/v1/orders/TB001/refunds/", {"external_id": "R2", "amount": "68.01"}, format="json")
    assert _error(response, 400, "refund_exceeds_order")["details"] == {"amount": "68.01", "refundable": "68.00"}
    assert _tables() == before


@pytest.mark.parametrize(
    "body",
    [
        {"external_id": "R1", "amount": "0"},
        {"external_id": "R1", "amount": "-5.00"},
        {"external_id": "R1", "amount": "1.001"},
        {"external_id": "R1", "amount": "10000000000.00"},
        {"external_id": "R1"},
        {"amount": "1.00"},
        {"external_id": "", "amount": "1.00"},
        {"external_id": "R1", "amount": "1.00", "reason": "broken"},
        {"external_id": "R1", "amount": "1.00", "refunded_at": "soon"},
    ],
)
def test_a_bad_refund_body_is_400_and_changes_nothing(api_client, member, paid_at, body):
    api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")
    before = _tables()
    _error(api_client.post("/api/v1/orders/TB001/refunds/", body, format="json"), 400, "invalid")
    assert _tables() == before


def test_a_cancelled_order_cannot_be_refunded(api_client, member, paid_at):
    api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")
    api_client.patch("/api/v1/orders/TB001/", {"status": "cancelled"}, format="json")
    before = _tables()
    response = api_client.post("/api/v1/orders/TB001/refunds/", {"external_id": "R1", "amount": "1.00"}, format="json")
    _error(response, 409, "invalid_status_change")
    assert _tables() == before


def test_a_refund_of_an_unknown_order_is_404(api_client, shop):
    response = api_client.post("/api/v1/orders/NOPE/refunds/", {"external_id": "R1", "amount": "1.00"}, format="json")
    _error(response, 404, "not_found")
    assert Refund.objects.count() == 0


# -- tenant isolation --------------------------------------------------------------------------------------------


def test_another_shops_key_cannot_read_change_or_refund_this_shops_orders(
    api_client, shop, other_shop, member, paid_at
):
    api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")
    before = _tables()
    theirs = _client_for(other_shop)

    _error(theirs.get("/api/v1/orders/TB001/"), 404, "not_found")
    _error(theirs.patch("/api/v1/orders/TB001/", {"status": "cancelled"}, format="json"), 404, "not_found")
    _error(
        theirs.post("/api/v1/orders/TB001/refunds/", {"external_id": "R1", "amount": "1.00"}, format="json"),
        404,
        "not_found",
    )

    assert _tables() == before


def test_an_order_naming_another_shops_member_is_400_unknown_member(api_client, other_shop, paid_at):
    theirs, _ = member_enroll(shop=other_shop, data=Enrolment(phone="13900139000"))
    before = _tables()
    _error(
        api_client.post("/api/v1/orders/", _order(paid_at, member_id=theirs.pk), format="json"), 400, "unknown_member"
    )
    assert _tables() == before


def test_the_same_external_id_in_two_shops_is_two_orders(api_client, shop, other_shop, member, paid_at):
    theirs_member, _ = member_enroll(shop=other_shop, data=Enrolment(phone="13800138000"))
    order_record(
        shop=other_shop,
        data=OrderInput(external_id="TB001", amount=Decimal("5.00"), paid_at=paid_at, member_id=theirs_member.pk),
    )

    response = api_client.post("/api/v1/orders/", _order(paid_at, member_id=member.pk), format="json")

    assert response.status_code == 201  # not a replay, not a conflict: the other shop's order is not ours
    assert sorted(Order.objects.values_list("shop_id", "amount")) == sorted(
        [(shop.pk, Decimal("268.00")), (other_shop.pk, Decimal("5.00"))]
    )
    assert _aggregates(theirs_member)["lifetime_spend"] == Decimal("5.00")
    # and the other shop's refund id space is separate too
    theirs = _client_for(other_shop)
    assert (
        theirs.post("/api/v1/orders/TB001/refunds/", {"external_id": "R1", "amount": "5.00"}, format="json").status_code
        == 201
    )
    assert (
        api_client.post(
            "/api/v1/orders/TB001/refunds/", {"external_id": "R1", "amount": "5.00"}, format="json"
        ).status_code
        == 201
    )
