"""The OpenAPI schema the API serves and the API's validation are one truth (issue 16, item 12): each test reads the
served schema and holds the API to it, for every operation, so a new field or endpoint is covered as it comes."""

import json
import re
from decimal import Decimal

import jsonschema_rs
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.services import CampaignInput, campaign_create
from coupons.issuance import coupon_issue
from members.services import Enrolment, member_enroll
from orders.services import OrderInput, order_record
from shops.services import SYSTEM
from shops.sms import sign
from tests.coupons.helpers import make_template
from tests.recruitment.helpers import make_channel
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

NUMBER = 12345  # what a client sends where text is due, and DRF's CharField took as "12345"


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


@pytest.fixture
def seeded(shop) -> dict:
    """One object of each kind a path names, so that requests get past the lookup to validation."""
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三"))
    order_record(
        shop=shop,
        data=OrderInput(external_id="TB001", member_id=member.pk, amount=Decimal(100), paid_at=timezone.now()),
    )
    template = make_template(shop)
    coupon_issue(shop=shop, member=member, template=template, idempotency_key="seed", source="claim")
    channel = make_channel(shop)
    campaign, _ = campaign_create(
        shop=shop, actor=SYSTEM, data=CampaignInput(name="回访", channel="sms", audience={"filter": {}}, text="您好")
    )
    webhook, _secret = endpoint_create(
        shop=shop, actor=SYSTEM, url="https://hooks.example.com/in", event_types=["member.joined"]
    )
    return {
        "id": member.pk, "external_id": "TB001", "template": template.pk, "channel": channel.pk,
        "campaign": campaign.pk, "webhook": webhook.pk,
    }  # fmt: skip


def _operations(schema: dict, *, methods=("post", "patch", "put")):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in methods and "requestBody" in operation:
                yield method, path, operation


def _resolve(node: dict, schema: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _is_string(node: dict, schema: dict) -> bool:
    node = _resolve(node, schema)
    if "allOf" in node and len(node["allOf"]) == 1:
        return _is_string(node["allOf"][0], schema)
    if "oneOf" in node:
        return all(_is_string(option, schema) for option in node["oneOf"])
    return node.get("type") == "string"


def _string_places(node: dict, schema: dict, at: tuple = ()):
    """The places in a request body that the schema types as strings, with their schemas: ("phone",),
    ("benefits", 0), ("items", 0, "sku")."""
    for name, prop in _resolve(node, schema).get("properties", {}).items():
        prop = _resolve(prop, schema)
        if _is_string(prop, schema):
            yield (*at, name), prop
        elif prop.get("type") == "array":
            items = _resolve(prop["items"], schema)
            if _is_string(items, schema):
                yield (*at, name, 0), items
            elif items.get("type") == "object":
                yield from _string_places(items, schema, (*at, name, 0))


def _body_places(schema: dict):
    for method, path, operation in _operations(schema):
        body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
        for place, node in _string_places(body_schema, schema):
            yield method, path, place, node


def _body_with(place: tuple, value) -> dict | list:
    head, *rest = place
    inner = _body_with(tuple(rest), value) if rest else value
    return [inner] if isinstance(head, int) else {head: inner}


def _named(details, place: tuple) -> bool:
    for step in place:
        if isinstance(step, int) and isinstance(details, list):
            details = details[step] if len(details) > step else None
        elif isinstance(details, dict):
            details = details.get(str(step))
        else:
            return False
    return bool(details)


def _url(path: str, seeded: dict) -> str:
    ids = {"{external_id}": seeded["external_id"]}
    ids["{id}"] = seeded["template"] if path.startswith("/api/v1/coupon-templates/") else seeded["id"]
    if path.startswith("/api/v1/channels/"):
        ids["{id}"] = seeded["channel"]
    if path.startswith("/api/v1/campaigns/"):
        ids["{id}"] = seeded["campaign"]
    if path.startswith("/api/v1/webhooks/"):
        ids["{id}"] = seeded["webhook"]
    return re.sub(r"\{\w+\}", lambda m: str(ids[m.group(0)]), path)


RECEIPTS = "/api/v1/messaging/receipts/http/"
RECEIPTS_SECRET = "schema-test-secret"


def _send(client, method: str, url: str, body):
    """The request as a client sends it; the provider callback, which takes no API key, signed as its provider
    signs (SMS_HTTP_SECRET is RECEIPTS_SECRET in these tests), so that its validation is what answers."""
    if url != RECEIPTS:
        return getattr(client, method)(url, body, format="json")
    raw = json.dumps(body).encode()
    signature = "sha256=" + sign(raw, RECEIPTS_SECRET)
    return client.generic(method.upper(), url, raw, "application/json", HTTP_X_HUIYUAN_SIGNATURE=signature)


@pytest.fixture(autouse=True)
def _receipts_secret(settings):
    settings.SMS_HTTP_SECRET = RECEIPTS_SECRET


def _refused(response, path: str, place: tuple) -> bool:
    """Whether the answer names `place` as at fault."""
    if path == "/api/v1/orders/bulk/" and response.status_code == 200:  # bad rows are named in the report
        name = ".".join(str(step) for step in place[2:])
        return any(message.startswith(f"{name}: ") for message in response.json()["errors"][0]["message"].split("; "))
    return response.status_code == 400 and _named(response.json()["details"], place)


# A JSON number where text is due, an empty text, a text with a NUL character. (Blank text such as "  " is refused
# as empty after trimming, which no JSON Schema keyword says: left out.)
@pytest.mark.parametrize("value", [NUMBER, "", "a\x00b"], ids=["number", "empty", "nul"])
def test_every_text_place_refuses_exactly_what_its_schema_refuses(schema, api_client, seeded, value):
    disagreements = []
    for method, path, place, node in _body_places(schema):
        rules = {**node, "components": schema["components"]}  # for the references within
        by_schema = not jsonschema_rs.validator_for(rules, validate_formats=True).is_valid(value)
        response = _send(api_client, method, _url(path, seeded), _body_with(place, value))
        if _refused(response, path, place) != by_schema:
            disagreements.append(
                f"{method.upper()} {path} {place} schema refuses: {by_schema}: {response.content[:200]}"
            )
    assert disagreements == []


def _objects(node, schema: dict):
    """Every object schema a request body is made of, itself included."""
    node = _resolve(node, schema)
    if node.get("type") == "object":
        yield node
        for prop in node.get("properties", {}).values():
            yield from _objects(prop, schema)
    elif node.get("type") == "array":
        yield from _objects(node["items"], schema)


def test_every_request_object_refuses_unknown_fields_as_its_schema_says(schema, api_client, seeded):
    open_objects, accepted = [], []
    for method, path, operation in _operations(schema):
        body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
        open_objects += [
            (path, sorted(node.get("properties", {})))
            for node in _objects(body_schema, schema)
            if node.get("additionalProperties") is not False and node.get("properties")
        ]
        response = _send(api_client, method, _url(path, seeded), {"colour": "red"})
        if not _refused(response, path, ("colour",)):
            accepted.append(f"{method.upper()} {path}: {response.status_code}")
    assert (open_objects, accepted) == ([], [])


def test_the_text_check_sees_every_kind_of_text_place(schema):
    places = {(path, place) for _method, path, place, _node in _body_places(schema)}
    assert {
        ("/api/v1/orders/", ("external_id",)),  # plain text
        ("/api/v1/orders/", ("amount",)),  # an amount
        ("/api/v1/orders/", ("items", 0, "sku")),  # text in a list of objects
        ("/api/v1/orders/bulk/", ("orders", 0, "items", 0, "unit_price")),
        ("/api/v1/channels/", ("benefits", 0)),  # text in a list of text
        ("/api/v1/channels/", ("kind",)),  # a choice
        ("/api/v1/members/", ("email",)),  # one of two string forms
        ("/api/v1/members/{id}/", ("birthday",)),
    } <= places
    assert ("/api/v1/channels/", ("tags", 0)) not in places  # a tag's id or its name: a number is right there


AMOUNTS = [
    "0",
    "0.00",
    "0.01",
    "0.1",
    "0.10",
    "1",
    "268",
    "268.5",
    "268.50",
    "9999999999.99",
    "10000000000",
    "",
    "-1",
    "-0.01",
    "+1",
    "01",
    "00",
    "1.",
    ".5",
    "1.005",
    "0.001",
    "1e2",
    "1E2",
    " 1",
    "1 ",
    "1\n",
    "٣",
    "¹",
    "NaN",
    "Infinity",
    "0x10",
    "1_000",
    "1,000.00",
]


def _accepts(field, value) -> bool:
    try:
        field.run_validation(value)
    except Exception:  # noqa: BLE001 - any refusal
        return False
    return True


@pytest.mark.parametrize("positive", [False, True])
def test_an_amounts_schema_pattern_admits_exactly_what_its_field_accepts(positive):
    from shops.rest.fields import AmountField

    field = AmountField(positive=positive)
    validator = jsonschema_rs.validator_for({"type": "string", "pattern": field.pattern})

    disagreements = [value for value in AMOUNTS if validator.is_valid(value) != _accepts(field, value)]

    assert disagreements == []
    assert _accepts(field, "0") is not positive and not _accepts(field, 268)  # a JSON number is refused too


def test_every_amount_in_a_request_body_is_published_with_its_fields_pattern(schema):
    from shops.rest.fields import AmountField

    patterns = {AmountField().pattern, AmountField(positive=True).pattern}
    found = {
        (path, place): node["pattern"]
        for _method, path, place, node in _body_places(schema)
        if node.get("format") == "decimal"
    }
    assert {pattern for pattern in found.values()} == patterns
    assert found[("/api/v1/orders/{external_id}/refunds/", ("amount",))] == AmountField(positive=True).pattern


def test_a_patch_body_requires_in_the_schema_exactly_what_the_view_requires(schema, api_client, seeded):
    seen = {}
    for _method, path, operation in _operations(schema, methods=("patch",)):
        body = _resolve(operation["requestBody"]["content"]["application/json"]["schema"], schema)
        required = set(body.get("required", []))
        response = api_client.patch(_url(path, seeded), {}, format="json")
        refused = set(response.json()["details"]) if response.status_code == 400 else set()
        seen[path] = (required, bool(operation["requestBody"].get("required")), refused)
    assert seen == {
        "/api/v1/members/{id}/": (set(), False, set()),  # every field optional: PATCH {} changes nothing, 200
        "/api/v1/orders/{external_id}/": ({"status"}, True, {"status"}),
    }


def test_a_page_size_is_validated_as_documented(schema, api_client, shop, seeded):
    lists = [
        (path, parameter["schema"])
        for path, item in schema["paths"].items()
        for parameter in item.get("get", {}).get("parameters", [])
        if parameter["name"] == "limit"
    ]
    # members, coupon templates, a member's coupons, channels, campaigns, their messages, webhooks, their
    # deliveries, events
    assert len(lists) == 9
    for path, limit in lists:
        assert (limit["type"], limit["minimum"], limit["maximum"]) == ("integer", 1, 500), path
        assert "400" in schema["paths"][path]["get"]["responses"], path
        for bad in ("0", "501", "-1", "abc", "1.5", "¹", "", "99999999999999999999"):
            response = api_client.get(_url(path, seeded), {"limit": bad})
            assert response.status_code == 400 and "limit" in response.json()["details"], (path, bad)
        for good in ("1", "500"):
            assert api_client.get(_url(path, seeded), {"limit": good}).status_code == 200, (path, good)
    member_enroll(shop=shop, data=Enrolment(phone="13900139000"))
    one = api_client.get("/api/v1/members/", {"limit": "1"}).json()
    assert len(one["results"]) == 1 and one["next"]


def test_a_validator_that_refuses_what_it_matches_is_published_as_what_it_admits(schema, api_client):
    benefit = schema["components"]["schemas"]["ChannelCreate"]["properties"]["benefits"]["items"]
    validator = jsonschema_rs.validator_for(benefit)

    assert benefit["pattern"] == "^[^\\r\\n\\u0000]*$"
    assert validator.is_valid("新人礼：满100减20") and not validator.is_valid("两行\n文字")
    response = api_client.post(
        "/api/v1/channels/", {"name": "收银台", "kind": "counter", "benefits": ["两行\n文字"]}, format="json"
    )
    assert response.status_code == 400 and "benefits" in response.json()["details"]
