"""Property-based API tests with schemathesis: requests generated from the OpenAPI schema the app serves, sent
in-process to the WSGI application against the test database, must never get a 5xx and must get answers that
the schema documents (status code, content type, body), on every operation the schema lists, the channels and
their files included. (tests/shops/test_api_schema.py holds the requests to the schema the other way round: what
the schema refuses, validation refuses.)

Bounded and reproducible: at most 50 examples per operation, derandomized, no shrinking, no example database.
"""

import copy
from decimal import Decimal

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from campaigns.services import CampaignInput, campaign_create
from coupons.issuance import coupon_issue
from coupons.services import template_create
from members.services import Enrolment, member_enroll
from orders.services import OrderInput, order_record
from recruitment.channels import ChannelInput, channel_create
from shops.services import SYSTEM
from tests.factories import make_api_key
from webhooks.services import endpoint_create

# About 70 s of CPU for every operation, most of it in transaction=True flushes and the bulk endpoint: CI runs it
# once (.ci/run, the PostgreSQL step).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OPERATIONS = [
    ("GET", "/api/v1/members/"),
    ("POST", "/api/v1/members/"),
    ("GET", "/api/v1/members/{id}/"),
    ("PATCH", "/api/v1/members/{id}/"),
    ("POST", "/api/v1/members/{id}/devices/"),
    ("GET", "/api/v1/analytics/summary/"),
    ("POST", "/api/v1/orders/"),
    ("POST", "/api/v1/orders/bulk/"),
    ("GET", "/api/v1/orders/{external_id}/"),
    ("PATCH", "/api/v1/orders/{external_id}/"),
    ("POST", "/api/v1/orders/{external_id}/refunds/"),
    ("GET", "/api/v1/members/{id}/points/"),
    ("POST", "/api/v1/members/{id}/points/redeem/"),
    ("POST", "/api/v1/members/{id}/points/adjust/"),
    ("GET", "/api/v1/tiers/"),
    ("GET", "/api/v1/coupon-templates/"),
    ("POST", "/api/v1/coupon-templates/"),
    ("GET", "/api/v1/coupon-templates/{id}/"),
    ("GET", "/api/v1/members/{id}/coupons/"),
    ("POST", "/api/v1/members/{id}/coupons/"),
    ("POST", "/api/v1/coupons/validate/"),
    ("POST", "/api/v1/coupons/redeem/"),
    ("GET", "/api/v1/channels/"),
    ("POST", "/api/v1/channels/"),
    ("GET", "/api/v1/channels/{id}/"),
    ("GET", "/api/v1/channels/{id}/qr.svg"),
    ("GET", "/api/v1/channels/{id}/qr.png"),
    ("GET", "/api/v1/channels/{id}/poster.png"),
    ("GET", "/api/v1/shop/"),
    ("GET", "/api/v1/campaigns/"),
    ("POST", "/api/v1/campaigns/"),
    ("GET", "/api/v1/campaigns/{id}/"),
    ("POST", "/api/v1/campaigns/{id}/send/"),
    ("POST", "/api/v1/campaigns/{id}/pause/"),
    ("POST", "/api/v1/campaigns/{id}/resume/"),
    ("POST", "/api/v1/campaigns/{id}/cancel/"),
    ("GET", "/api/v1/campaigns/{id}/messages/"),
    ("GET", "/api/v1/automations/"),
    ("POST", "/api/v1/messaging/receipts/http/"),
    ("GET", "/api/v1/webhooks/"),
    ("POST", "/api/v1/webhooks/"),
    ("GET", "/api/v1/webhooks/{id}/"),
    ("DELETE", "/api/v1/webhooks/{id}/"),
    ("POST", "/api/v1/webhooks/{id}/rotate/"),
    ("GET", "/api/v1/webhooks/{id}/deliveries/"),
    ("GET", "/api/v1/events/"),
]
# The error answers each operation gives by the contract (SPEC 10: 400 bad input, 401, 403 frozen shop, 404 missing
# or another shop's, 409 conflict, 429 throttled), all in the one error format.
ERRORS = {
    ("GET", "/api/v1/members/"): {"400", "404"},  # malformed phone, unknown tag/tier; a stale cursor
    ("POST", "/api/v1/members/"): {"400", "409"},
    ("GET", "/api/v1/members/{id}/"): {"404"},
    ("PATCH", "/api/v1/members/{id}/"): {"400", "404", "409"},
    ("POST", "/api/v1/members/{id}/devices/"): {"400", "404", "409"},  # 409: an erased member
    ("GET", "/api/v1/analytics/summary/"): {"400"},  # a bad date, a period backwards or too long
    ("POST", "/api/v1/orders/"): {"400", "409"},
    ("POST", "/api/v1/orders/bulk/"): {"400"},
    ("GET", "/api/v1/orders/{external_id}/"): {"404"},
    ("PATCH", "/api/v1/orders/{external_id}/"): {"400", "404", "409"},
    ("POST", "/api/v1/orders/{external_id}/refunds/"): {"400", "404", "409"},
    ("GET", "/api/v1/members/{id}/points/"): {"404"},
    ("POST", "/api/v1/members/{id}/points/redeem/"): {"400", "404", "409"},
    ("POST", "/api/v1/members/{id}/points/adjust/"): {"400", "404", "409"},
    ("GET", "/api/v1/tiers/"): set(),
    ("GET", "/api/v1/coupon-templates/"): {"400", "404"},  # an unknown status; a stale cursor
    ("POST", "/api/v1/coupon-templates/"): {"400"},
    ("GET", "/api/v1/coupon-templates/{id}/"): {"404"},
    ("GET", "/api/v1/members/{id}/coupons/"): {"400", "404"},
    ("POST", "/api/v1/members/{id}/coupons/"): {"400", "404", "409"},
    ("POST", "/api/v1/coupons/validate/"): {"400", "404"},
    ("POST", "/api/v1/coupons/redeem/"): {"400", "404", "409"},
    ("GET", "/api/v1/channels/"): {"400", "404"},  # a bad page size; a stale cursor
    ("POST", "/api/v1/channels/"): {"400"},
    ("GET", "/api/v1/channels/{id}/"): {"404"},
    ("GET", "/api/v1/channels/{id}/qr.svg"): {"404"},
    ("GET", "/api/v1/channels/{id}/qr.png"): {"404"},
    ("GET", "/api/v1/channels/{id}/poster.png"): {"400", "404", "503"},  # an unknown size; no CJK font
    ("GET", "/api/v1/shop/"): set(),
    ("GET", "/api/v1/campaigns/"): {"400", "404"},  # a bad page size; a stale cursor
    ("POST", "/api/v1/campaigns/"): {"400", "409"},  # an unknown placeholder, segment or tag; a reused key
    ("GET", "/api/v1/campaigns/{id}/"): {"404"},
    ("POST", "/api/v1/campaigns/{id}/send/"): {"404", "409"},  # a cancelled campaign
    ("POST", "/api/v1/campaigns/{id}/pause/"): {"404", "409"},
    ("POST", "/api/v1/campaigns/{id}/resume/"): {"404", "409"},
    ("POST", "/api/v1/campaigns/{id}/cancel/"): {"404", "409"},  # a finished campaign
    ("GET", "/api/v1/campaigns/{id}/messages/"): {"400", "404"},  # an unknown status, a bad member id
    ("GET", "/api/v1/automations/"): set(),
    ("GET", "/api/v1/webhooks/"): {"400", "404"},  # a bad page size; a stale cursor
    ("POST", "/api/v1/webhooks/"): {"400", "409"},  # not https, a private address; the shop's limit of endpoints
    ("GET", "/api/v1/webhooks/{id}/"): {"404"},
    ("DELETE", "/api/v1/webhooks/{id}/"): {"404"},
    ("POST", "/api/v1/webhooks/{id}/rotate/"): {"404"},
    ("GET", "/api/v1/webhooks/{id}/deliveries/"): {"400", "404"},
    ("GET", "/api/v1/events/"): {"400"},  # an unknown event id or type, a bad page size
}
# Not key-authenticated (its signature is its authentication): 401 for a missing or wrong signature, 400 for a
# signed body that is not a receipt or a reply.
UNKEYED_ERRORS = {("POST", "/api/v1/messaging/receipts/http/"): {"400", "401", "413"}}
ALWAYS = {"401", "403", "429"}
WITH_A_BODY = {"413"}  # a body above DATA_UPLOAD_MAX_MEMORY_SIZE
ERROR_BODY = {
    "type": "object",
    "required": ["code", "message", "details"],
    "additionalProperties": False,
    "properties": {
        "code": {"type": "string", "pattern": "^[a-z_]+$"},
        "message": {"type": "string", "minLength": 1},
        "details": {"type": "object"},
    },
}
MOBILE = "^1[3-9][0-9]{9}$"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _settings(max_examples: int):
    return settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture
def wsgi_app(settings):
    settings.API_THROTTLE_RATE = 1_000_000.0
    settings.API_THROTTLE_BURST = 1_000_000
    return get_wsgi_application()


@pytest.fixture
def auth(shop):
    _key, secret = make_api_key(shop)
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def served_schema(wsgi_app, auth) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", wsgi_app, headers=auth)


def _contract(raw: dict) -> dict:
    """The served schema, steered and tightened for the generated run: the error body checked strictly (a
    snake_case code, a message that says something, nothing else), and positive examples of phones that are real
    mainland mobiles (the schema rightly takes any phone text, since the API normalises common formats, but then
    nearly every generated enrolment would stop at invalid_phone)."""
    schema = copy.deepcopy(raw)
    schema["components"]["schemas"]["Error"] = ERROR_BODY
    for name, component in schema["components"]["schemas"].items():
        if name != "Member" and "phone" in component.get("properties", {}):  # request bodies
            component["properties"]["phone"]["pattern"] = MOBILE
    for parameter in schema["paths"]["/api/v1/members/"]["get"]["parameters"]:
        if parameter["name"] == "phone":
            parameter["schema"]["pattern"] = MOBILE
    return schema


@pytest.fixture
def contract_schema(served_schema, wsgi_app) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_dict(_contract(served_schema.raw_schema))
    schema.app = wsgi_app
    return schema


@pytest.fixture
def seeded(shop):
    """A member with an order and a new member without one, to aim at, so generated ids and bodies also reach the
    code behind the 404."""
    buyer, _ = member_enroll(
        shop=shop, data=Enrolment(phone="13800138000", name="张三", birthday_month=5, birthday_day=20)
    )
    order_record(
        shop=shop,
        data=OrderInput(external_id="TB001", member_id=buyer.pk, amount=Decimal("268.00"), paid_at=timezone.now()),
    )
    newcomer, _ = member_enroll(shop=shop, data=Enrolment(phone="13900139000"))
    template = template_create(
        shop=shop,
        actor=SYSTEM,
        data={
            "name": "满100减20",
            "kind": "amount_off",
            "value": Decimal(20),
            "min_spend": Decimal(100),
            "valid_days": 30,
        },
    )
    coupon_issue(shop=shop, member=newcomer, template=template, idempotency_key="seed", source="claim")
    channel = channel_create(shop=shop, actor=SYSTEM, data=ChannelInput(name="门店收银台", welcome_points=100))
    campaign, _created = campaign_create(
        shop=shop,
        actor=SYSTEM,
        data=CampaignInput(name="回归礼", channel="sms", audience={"filter": {}}, text="{name}，好久不见"),
    )
    webhook, _secret = endpoint_create(
        shop=shop, actor=SYSTEM, url="https://hooks.example.com/in", event_types=["member.joined"]
    )
    return {
        "id": newcomer.pk,
        "external_id": "TB001",
        "template_id": template.pk,
        "channel_id": channel.pk,
        "campaign_id": campaign.pk,
        "webhook_id": webhook.pk,
    }


def test_the_schema_lists_exactly_the_operations_fuzzed_here(served_schema):
    served = {
        (method.upper(), path)
        for path, item in served_schema.raw_schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert served == set(OPERATIONS)


def _run(schema, method: str, path: str, auth: dict, seeded: dict, checks=CHECKS):
    operation = schema[path][method]
    plans = [(GenerationMode.POSITIVE, None, 20), (GenerationMode.NEGATIVE, None, 15)]
    fixed = {name: seeded[name] for name in ("id", "external_id") if "{" + name + "}" in path}
    if path.startswith("/api/v1/coupon-templates/{"):
        fixed = {"id": seeded["template_id"]}
    elif path.startswith("/api/v1/channels/{"):
        fixed = {"id": seeded["channel_id"]}
    elif path.startswith("/api/v1/campaigns/{"):
        fixed = {"id": seeded["campaign_id"]}
    elif path.startswith("/api/v1/webhooks/{"):
        fixed = {"id": seeded["webhook_id"]}
    if fixed:
        plans.append((GenerationMode.POSITIVE, fixed, 15))
    else:
        plans[0] = (GenerationMode.POSITIVE, None, 35)
    for mode, path_parameters, examples in plans:

        @_settings(examples)
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        def check(case):
            response = case.call(headers=auth)
            case.validate_response(response, checks=checks, headers=auth)

        check()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_generated_requests_get_documented_answers_and_never_a_5xx(contract_schema, auth, seeded, method, path):
    _run(contract_schema, method, path, auth, seeded)


def test_the_served_schema_documents_every_error_answer(served_schema):
    missing = {
        (method, path): sorted(
            (codes | ALWAYS | (WITH_A_BODY if method in {"POST", "PATCH"} else set()))
            - set(served_schema.raw_schema["paths"][path][method.lower()]["responses"])
        )
        for (method, path), codes in ERRORS.items()
    }
    for (method, path), codes in UNKEYED_ERRORS.items():
        missing[(method, path)] = sorted(
            codes - set(served_schema.raw_schema["paths"][path][method.lower()]["responses"])
        )
    assert {op: codes for op, codes in missing.items() if codes} == {}


def test_the_served_schema_lets_member_order_times_be_null(served_schema):
    member = served_schema.raw_schema["components"]["schemas"]["Member"]["properties"]
    assert (member["first_order_at"].get("nullable"), member["last_order_at"].get("nullable")) == (True, True)
