"""The coupon rows of the API contract: coupon-templates/, members/{id}/coupons/, coupons/validate/ and
coupons/redeem/."""

from decimal import Decimal

import pytest

from coupons.issuance import coupon_issue
from coupons.models import Coupon, CouponTemplate, Redemption
from coupons.redemption import coupon_redeem
from coupons.rules import Cart
from coupons.services import codes_generate, template_set_status
from members.segments import segment_save
from members.services import member_erase, member_set_frozen
from shops.models import AuditLogEntry
from shops.services import SYSTEM

from .helpers import days, make_member, make_template

pytestmark = pytest.mark.django_db

TEMPLATES = "/api/v1/coupon-templates/"
VALIDATE = "/api/v1/coupons/validate/"
REDEEM = "/api/v1/coupons/redeem/"


def _coupons_url(member) -> str:
    return f"/api/v1/members/{member.pk}/coupons/"


def _post(client, url, body):
    return client.post(url, body, format="json")


def _issue(shop, member, template, key="k"):
    return coupon_issue(shop=shop, member=member, template=template, idempotency_key=key, source="claim").coupon


def _coupon_rows(shop) -> list:
    return list(Coupon.objects.filter(shop=shop).order_by("pk").values())


def _template_rows(shop) -> list:
    return list(CouponTemplate.objects.filter(shop=shop).order_by("pk").values())


@pytest.fixture
def member(shop):
    return make_member(shop, 1, name="张三")


@pytest.fixture
def template(shop):
    return make_template(shop, stock=100)


# --- Templates ----------------------------------------------------------------------------------------------------


def test_creating_a_template_answers_201_with_its_fields_and_figures(api_client, shop):
    body = {
        "name": "满100减20",
        "kind": "amount_off",
        "value": "20",
        "min_spend": "100.00",
        "stock": 500,
        "valid_days": 30,
    }

    response = _post(api_client, TEMPLATES, body)

    assert response.status_code == 201, response.content
    created = response.json()
    template = CouponTemplate.objects.get(shop=shop)
    assert created["id"] == template.pk
    assert {
        k: created[k]
        for k in (
            "name",
            "kind",
            "value",
            "min_spend",
            "max_discount",
            "stock",
            "per_member_limit",
            "valid_days",
            "valid_from",
            "valid_until",
            "audience",
            "scope",
            "status",
        )
    } == {
        "name": "满100减20",
        "kind": "amount_off",
        "value": "20.00",
        "min_spend": "100.00",
        "max_discount": None,
        "stock": 500,
        "per_member_limit": 1,
        "valid_days": 30,
        "valid_from": None,
        "valid_until": None,
        "audience": "everyone",
        "scope": "order",
        "status": "active",
    }
    assert (created["issued"], created["claimed"], created["redeemed"]) == (0, 0, 0)
    assert (template.value, template.min_spend, template.stock) == (Decimal("20.00"), Decimal("100.00"), 500)
    entry = AuditLogEntry.objects.get(shop=shop, action="coupon_template.create")
    assert entry.actor_api_key is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "满100减20\u202e"),
        ("name", "\x07满100减20"),
        ("item_name", "湿巾\u2066"),
        ("scope_values", ["母婴", "玩\x1b具"]),
        ("description", "第一行\n\u202e第二行"),
    ],
)
def test_a_template_with_a_control_or_text_direction_character_is_a_400_and_stores_nothing(
    api_client, shop, field, value
):
    body = {
        "name": "满100减20",
        "kind": "amount_off",
        "value": "20",
        "min_spend": "100",
        "valid_days": 30,
        field: value,
    }
    if field == "scope_values":
        body["scope"] = "categories"

    response = _post(api_client, TEMPLATES, body)

    assert response.status_code == 400, response.content
    assert list(response.json()["details"]) == [field]
    assert _template_rows(shop) == []


def test_a_templates_description_keeps_its_lines(api_client, shop):
    body = {
        "name": "满100减20",
        "kind": "amount_off",
        "value": "20",
        "min_spend": "100",
        "valid_days": 30,
        "description": "母婴类可用\r\n不与其他优惠同享",
    }
    assert _post(api_client, TEMPLATES, body).status_code == 201
    assert CouponTemplate.objects.get(shop=shop).description == "母婴类可用\r\n不与其他优惠同享"


def test_a_template_with_every_optional_field(api_client, shop):
    segment = segment_save(shop=shop, actor=SYSTEM, name="高价值", definition={"spend_min": "1000"})
    body = {
        "name": "母婴9折",
        "description": "母婴类商品可用",
        "kind": "percent_off",
        "value": "10",
        "min_spend": "50",
        "max_discount": "30.00",
        "scope": "categories",
        "scope_values": ["母婴"],
        "audience": "segment",
        "audience_segment": segment.pk,
        "claim_starts_at": "2026-12-01T00:00:00",
        "claim_ends_at": None,
        "valid_from": "2026-12-01T10:00:00+08:00",
        "valid_until": "2027-01-01T00:00:00+08:00",
        "stock": None,
        "per_member_limit": 3,
        "stackable": True,
        "points_price": 800,
        "use_channel": "online",
        "on_refund": "void",
        "new_member_days": 14,
    }

    response = _post(api_client, TEMPLATES, body)

    assert response.status_code == 201, response.content
    created = response.json()
    expected = {**body, "claim_starts_at": "2026-12-01T00:00:00+08:00", "value": "10.00", "min_spend": "50.00"}
    assert {k: created[k] for k in body} == expected
    assert created["valid_days"] is None


def test_times_without_an_offset_are_in_the_shops_time_zone(api_client, shop):
    shop.time_zone = "America/New_York"
    shop.save(update_fields=["time_zone"])
    body = {"name": "黑五", "kind": "no_threshold", "value": "5", "valid_until": "2026-11-28T00:00:00"}

    response = _post(api_client, TEMPLATES, body)

    assert response.status_code == 201, response.content
    assert response.json()["valid_until"] == "2026-11-28T00:00:00-05:00"
    assert CouponTemplate.objects.get(shop=shop).valid_until.isoformat() == "2026-11-28T05:00:00+00:00"


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"name": "x", "kind": "amount_off", "value": "20", "valid_days": 7}, {"min_spend"}),
        ({"name": "x", "kind": "amount_off", "value": "50", "min_spend": "30", "valid_days": 7}, {"value"}),
        ({"name": "x", "kind": "percent_off", "value": "100", "valid_days": 7}, {"value"}),
        ({"name": "x", "kind": "no_threshold", "value": "5", "max_discount": "3", "valid_days": 7}, {"max_discount"}),
        ({"name": "x", "kind": "gift", "valid_days": 7}, {"item_sku"}),
        ({"name": "x", "kind": "no_threshold", "value": "5"}, {"valid_days"}),
        (
            {"name": "x", "kind": "no_threshold", "value": "5", "valid_days": 7, "valid_until": "2026-12-01T00:00:00Z"},
            {"valid_days"},
        ),
        (
            {
                "name": "x",
                "kind": "no_threshold",
                "value": "5",
                "valid_from": "2026-12-02T00:00:00Z",
                "valid_until": "2026-12-01T00:00:00Z",
            },
            {"valid_until"},
        ),
        ({"name": "x", "kind": "no_threshold", "value": "5", "valid_days": 7, "scope": "skus"}, {"scope_values"}),
        ({"name": "x", "kind": "no_threshold", "value": "5", "valid_days": 7, "audience": "tiers"}, {"audience_tiers"}),
        (
            {"name": "x", "kind": "no_threshold", "value": "5", "valid_days": 7, "audience": "segment"},
            {"audience_segment"},
        ),
        (
            {
                "name": "x",
                "kind": "no_threshold",
                "value": "5",
                "valid_days": 7,
                "claim_starts_at": "2026-12-02T00:00Z",
                "claim_ends_at": "2026-12-01T00:00Z",
            },
            {"claim_ends_at"},
        ),
    ],
)
def test_a_template_whose_fields_do_not_fit_together_is_400_naming_each_field(api_client, shop, body, details):
    response = _post(api_client, TEMPLATES, body)

    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "invalid_template"
    assert set(error["details"]) == details
    assert all(isinstance(message, str) and message for message in error["details"].values())
    assert CouponTemplate.objects.filter(shop=shop).count() == 0


def test_an_amount_off_without_a_threshold_says_so(api_client, shop):
    response = _post(api_client, TEMPLATES, {"name": "x", "kind": "amount_off", "value": "20", "valid_days": 7})

    assert response.json()["details"] == {
        "min_spend": "An amount-off coupon needs a minimum spend (use “no threshold” otherwise)."
    }


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "no_threshold", "value": "5", "valid_days": 7},  # no name
        {"name": "x", "kind": "cashback", "value": "5", "valid_days": 7},
        {"name": "x", "kind": "no_threshold", "value": "-5", "valid_days": 7},
        {"name": "x", "kind": "no_threshold", "value": "5.001", "valid_days": 7},
        {"name": "x", "kind": "no_threshold", "value": "99999999999", "valid_days": 7},
        {"name": "x", "kind": "no_threshold", "value": "5", "valid_days": 0},
        {"name": "x", "kind": "no_threshold", "value": "5", "valid_days": 7, "stock": -1},
        {"name": "x", "kind": "no_threshold", "value": "5", "valid_days": 7, "per_member_limit": 0},
        {"name": "x", "kind": "no_threshold", "value": "5", "valid_until": "1899-01-01T00:00:00Z"},
        {"name": "x", "kind": "no_threshold", "value": "5", "valid_until": "not a date"},
        {"name": "x", "kind": "no_threshold", "value": "5", "valid_days": 7, "audience": "everybody"},
        {"name": "x", "kind": "no_threshold", "value": "5", "valid_days": 7, "scope_values": [""]},
        {"name": "x", "kind": "no_threshold", "value": "5", "valid_days": 7, "audience_tiers": ["gold"]},
        {"name": "x", "kind": "no_threshold", "value": "5", "valid_days": 7, "points_price": 0},
        {"name": "x", "kind": "no_threshold", "value": "5", "valid_days": 7, "issued": 3},  # not a field to set
        {"name": "x" * 61, "kind": "no_threshold", "value": "5", "valid_days": 7},
    ],
)
def test_bad_template_fields_are_400_and_store_nothing(api_client, shop, body):
    response = _post(api_client, TEMPLATES, body)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert CouponTemplate.objects.filter(shop=shop).count() == 0


def test_another_shops_segment_is_an_unknown_segment(api_client, shop, other_shop):
    foreign = segment_save(shop=other_shop, actor=SYSTEM, name="乙店分群", definition={"spend_min": "1"})
    body = {
        "name": "x",
        "kind": "no_threshold",
        "value": "5",
        "valid_days": 7,
        "audience": "segment",
        "audience_segment": foreign.pk,
    }

    response = _post(api_client, TEMPLATES, body)

    assert response.status_code == 400
    assert response.json()["details"] == {"audience_segment": ["No such segment in this shop."]}
    assert CouponTemplate.objects.count() == 0


def test_the_template_list_shows_the_shops_templates_newest_first_with_their_figures(
    api_client, shop, other_shop, member
):
    first = make_template(shop, name="旧券", per_member_limit=2)
    second = make_template(shop, name="新券")
    make_template(other_shop, name="乙店券")
    _issue(shop, member, first, key="a")
    used = _issue(shop, member, first, key="b")
    coupon_redeem(shop=shop, code=used.code, member=member, order_external_id="TB-1", cart=Cart(Decimal("150")))
    codes_generate(shop=shop, actor=SYSTEM, template=first, count=3)

    body = api_client.get(TEMPLATES).json()

    rows = [(t["id"], t["name"], t["issued"], t["claimed"], t["redeemed"]) for t in body["results"]]
    assert rows == [(second.pk, "新券", 0, 0, 0), (first.pk, "旧券", 5, 2, 1)]
    assert body["next"] is None


def test_the_template_list_filters_by_status_and_pages_with_a_cursor(api_client, shop):
    templates = [make_template(shop, name=f"券{i}") for i in range(3)]
    template_set_status(shop=shop, actor=SYSTEM, template=templates[0], status="paused")

    paused = api_client.get(TEMPLATES, {"status": "paused"}).json()
    page = api_client.get(TEMPLATES, {"limit": 2}).json()
    rest = api_client.get(page["next"]).json()
    bad = api_client.get(TEMPLATES, {"status": "deleted"})

    assert [t["id"] for t in paused["results"]] == [templates[0].pk]
    assert [t["id"] for t in page["results"] + rest["results"]] == [t.pk for t in reversed(templates)]
    assert (bad.status_code, list(bad.json()["details"])) == (400, ["status"])


def test_the_template_list_reads_a_fixed_number_of_queries(api_client, shop, django_assert_max_num_queries):
    for i in range(10):
        make_template(shop, name=f"券{i}")

    with django_assert_max_num_queries(8):
        assert len(api_client.get(TEMPLATES).json()["results"]) == 10


def test_a_template_is_read_by_id_and_another_shops_is_404(api_client, shop, other_shop, template):
    foreign = make_template(other_shop)

    mine = api_client.get(f"{TEMPLATES}{template.pk}/")
    theirs = api_client.get(f"{TEMPLATES}{foreign.pk}/")
    missing = api_client.get(f"{TEMPLATES}999999/")

    assert mine.status_code == 200 and mine.json()["id"] == template.pk and mine.json()["stock"] == 100
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()


# --- Issuing ------------------------------------------------------------------------------------------------------


def test_issuing_answers_201_with_the_coupon_and_a_retry_200_with_the_same(api_client, shop, member, template):
    body = {"template_id": template.pk, "idempotency_key": "claim-1"}

    first = _post(api_client, _coupons_url(member), body)
    again = _post(api_client, _coupons_url(member), body)

    assert (first.status_code, again.status_code) == (201, 200), first.content
    assert first.json() == again.json()
    coupon = Coupon.objects.get(shop=shop)
    issued = first.json()
    assert issued["id"] == coupon.pk and issued["code"] == coupon.code and len(coupon.code) == 16
    assert issued["code_display"] == "-".join(coupon.code[i : i + 4] for i in range(0, 16, 4))
    assert issued["template"] == {"id": template.pk, "name": "满100减20", "kind": "amount_off"}
    assert (issued["status"], issued["source"]) == ("available", "claim")
    assert issued["valid_until"].endswith("T00:00:00+08:00")  # midnight in the shop's time zone
    assert (coupon.member_id, coupon.idempotency_key) == (member.pk, "claim-1")
    assert CouponTemplate.objects.get(pk=template.pk).issued == 1


def test_the_issue_answer_is_the_coupon_as_the_list_renders_it(api_client, member, template):
    # the issue endpoint renders the coupon directly (no serializer); it must say exactly what the list says
    body = {"template_id": template.pk, "idempotency_key": "claim-1"}

    created = _post(api_client, _coupons_url(member), body)
    replay = _post(api_client, _coupons_url(member), body)

    listed = api_client.get(_coupons_url(member)).json()["results"]
    assert created.json() == replay.json() == listed[0]


def test_a_grant_and_a_compensation_are_issued_with_their_source(api_client, shop, member):
    template = make_template(shop, per_member_limit=1)

    grant = _post(
        api_client, _coupons_url(member), {"template_id": template.pk, "idempotency_key": "g", "source": "grant"}
    )
    compensation = _post(
        api_client, _coupons_url(member), {"template_id": template.pk, "idempotency_key": "c", "source": "compensation"}
    )

    assert (grant.status_code, compensation.status_code) == (201, 201)  # compensation is outside the limit
    assert (grant.json()["source"], compensation.json()["source"]) == ("grant", "compensation")


def test_out_of_stock_is_409_and_issues_nothing(api_client, shop, member):
    template = make_template(shop, stock=1)
    _issue(shop, make_member(shop, 2), template)
    before = _coupon_rows(shop)

    response = _post(api_client, _coupons_url(member), {"template_id": template.pk, "idempotency_key": "k2"})

    assert response.status_code == 409
    assert response.json()["code"] == "out_of_stock"
    assert _coupon_rows(shop) == before and CouponTemplate.objects.get(pk=template.pk).issued == 1


def test_the_per_member_limit_is_409_limit_reached(api_client, shop, member, template):
    _post(api_client, _coupons_url(member), {"template_id": template.pk, "idempotency_key": "k1"})

    response = _post(api_client, _coupons_url(member), {"template_id": template.pk, "idempotency_key": "k2"})

    assert response.status_code == 409
    assert response.json() == {
        "code": "limit_reached",
        "message": "The member already holds as many of this coupon as allowed.",
        "details": {"template_id": template.pk, "limit": 1},
    }
    assert Coupon.objects.filter(shop=shop).count() == 1


def test_a_template_not_issuable_is_409_not_issuable_with_the_reason(api_client, shop, member):
    from django.utils import timezone

    later = make_template(shop, name="未开抢", claim_starts_at=timezone.now() + days(1))
    paused = make_template(shop, name="已暂停")
    template_set_status(shop=shop, actor=SYSTEM, template=paused, status="paused")
    frozen = make_member(shop, 3)
    member_set_frozen(shop=shop, actor=SYSTEM, member=frozen, frozen=True)

    early = _post(api_client, _coupons_url(member), {"template_id": later.pk, "idempotency_key": "a"})
    stopped = _post(api_client, _coupons_url(member), {"template_id": paused.pk, "idempotency_key": "b"})
    inactive = _post(
        api_client, _coupons_url(frozen), {"template_id": later.pk, "idempotency_key": "c", "source": "grant"}
    )

    assert [(r.status_code, r.json()["code"], r.json()["details"]) for r in (early, stopped, inactive)] == [
        (409, "not_issuable", {"reason": "claim_not_started"}),
        (409, "not_issuable", {"reason": "template_inactive"}),
        (409, "not_issuable", {"reason": "member_not_active"}),
    ]
    assert early.json()["message"] == "Claims for this coupon have not opened yet."
    assert Coupon.objects.filter(shop=shop).count() == 0


def test_a_key_reused_for_another_template_is_409_idempotency_conflict(api_client, shop, member, template):
    other = make_template(shop, name="另一张")
    _post(api_client, _coupons_url(member), {"template_id": template.pk, "idempotency_key": "same"})
    before = _coupon_rows(shop)

    response = _post(api_client, _coupons_url(member), {"template_id": other.pk, "idempotency_key": "same"})

    assert (response.status_code, response.json()["code"]) == (409, "idempotency_conflict")
    assert _coupon_rows(shop) == before


@pytest.mark.parametrize(
    "body",
    [
        {"idempotency_key": "k"},
        {"template_id": "one", "idempotency_key": "k"},
        {"template_id": 0, "idempotency_key": "k"},
        {"template_id": 2**63, "idempotency_key": "k"},
        {"template_id": 1},
        {"template_id": 1, "idempotency_key": ""},
        {"template_id": 1, "idempotency_key": "gift#1"},  # the system's own key space
        {"template_id": 1, "idempotency_key": "k" * 101},
        {"template_id": 1, "idempotency_key": "k", "source": "birthday"},
        {"template_id": 1, "idempotency_key": "k", "member_id": 5},
    ],
)
def test_bad_issue_requests_are_400_and_issue_nothing(api_client, shop, member, template, body):
    body = {**body, "template_id": template.pk} if body.get("template_id") == 1 else body

    response = _post(api_client, _coupons_url(member), body)

    assert response.status_code == 400, response.content
    assert Coupon.objects.count() == 0 and CouponTemplate.objects.get(pk=template.pk).issued == 0


def test_an_unknown_or_foreign_template_or_member_is_404_and_changes_nothing(
    api_client, shop, other_shop, member, template
):
    foreign_template = make_template(other_shop)
    foreign_member = make_member(other_shop, 9)
    before = (_template_rows(other_shop), _coupon_rows(other_shop))

    answers = [
        _post(api_client, _coupons_url(member), {"template_id": foreign_template.pk, "idempotency_key": "a"}),
        _post(api_client, _coupons_url(member), {"template_id": 999999, "idempotency_key": "b"}),
        _post(api_client, _coupons_url(foreign_member), {"template_id": template.pk, "idempotency_key": "c"}),
        _post(api_client, "/api/v1/members/999999/coupons/", {"template_id": template.pk, "idempotency_key": "d"}),
        api_client.get(_coupons_url(foreign_member)),
    ]

    assert [r.status_code for r in answers] == [404] * 5
    assert {r.json()["code"] for r in answers} == {"not_found"}
    assert (_template_rows(other_shop), _coupon_rows(other_shop)) == before
    assert Coupon.objects.filter(shop=shop).count() == 0


def test_an_erased_member_has_no_coupons_to_read_or_receive(api_client, shop, member, template):
    member_erase(shop=shop, actor=SYSTEM, member=member)

    read = api_client.get(_coupons_url(member))
    issue = _post(api_client, _coupons_url(member), {"template_id": template.pk, "idempotency_key": "k"})

    assert (read.status_code, issue.status_code) == (404, 404)
    assert Coupon.objects.count() == 0


# --- A member's coupons -------------------------------------------------------------------------------------------


def test_a_members_coupons_are_listed_newest_first_and_filtered_by_status(api_client, shop, member, template):
    other = make_template(shop, name="第二张")
    first = _issue(shop, member, template, key="a")
    second = _issue(shop, member, other, key="b")
    coupon_redeem(shop=shop, code=first.code, member=member, order_external_id="TB-1", cart=Cart(Decimal("150")))
    _issue(shop, make_member(shop, 2), template, key="c")  # someone else's

    every = api_client.get(_coupons_url(member)).json()
    used = api_client.get(_coupons_url(member), {"status": "redeemed"}).json()
    bad = api_client.get(_coupons_url(member), {"status": "used"})

    assert [(c["id"], c["status"], c["template"]["name"]) for c in every["results"]] == [
        (second.pk, "available", "第二张"),
        (first.pk, "redeemed", "满100减20"),
    ]
    assert [c["id"] for c in used["results"]] == [first.pk]
    assert (bad.status_code, bad.json()["code"], list(bad.json()["details"])) == (400, "invalid", ["status"])


def test_a_members_coupons_read_a_fixed_number_of_queries(api_client, shop, member, django_assert_max_num_queries):
    for i in range(8):
        _issue(shop, member, make_template(shop, name=f"券{i}"), key=f"k{i}")

    with django_assert_max_num_queries(7):
        assert len(api_client.get(_coupons_url(member)).json()["results"]) == 8


# --- Validation ---------------------------------------------------------------------------------------------------


def _cart(coupon, member, **fields) -> dict:
    return {"code": coupon.code, "member_id": member.pk, "order_amount": "150.00", **fields}


def test_validation_answers_the_discount_and_changes_nothing(api_client, shop, member, template):
    coupon = _issue(shop, member, template)
    before = (_coupon_rows(shop), _template_rows(shop))
    typed = "-".join(coupon.code[i : i + 4] for i in range(0, 16, 4)).lower()

    response = _post(api_client, VALIDATE, _cart(coupon, member, code=typed))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "valid": True,
        "discount": "20.00",
        "reason": None,
        "message": "",
        "benefit": {},
        "details": {},
    }
    assert (_coupon_rows(shop), _template_rows(shop)) == before and Redemption.objects.count() == 0


def test_validation_gives_the_reason_a_coupon_does_not_apply(api_client, shop, member, template):
    coupon = _issue(shop, member, template)

    below = _post(api_client, VALIDATE, _cart(coupon, member, order_amount="80"))
    stranger = _post(api_client, VALIDATE, _cart(coupon, make_member(shop, 2)))

    assert below.status_code == 200
    assert below.json() == {
        "valid": False,
        "discount": "0.00",
        "reason": "below_threshold",
        "message": "The order does not reach the coupon's minimum spend.",
        "benefit": {},
        "details": {"min_spend": "100.00", "short_by": "20.00"},
    }
    assert (stranger.json()["valid"], stranger.json()["reason"]) == (False, "not_this_member")


def test_validation_of_an_expired_coupon_names_its_end_in_the_shops_time_zone(api_client, shop, member):
    from django.utils import timezone

    template = make_template(shop, valid_days=1)
    coupon = coupon_issue(
        shop=shop, member=member, template=template, idempotency_key="k", source="claim", now=timezone.now() - days(3)
    ).coupon

    body = _post(api_client, VALIDATE, _cart(coupon, member)).json()

    assert (body["valid"], body["reason"]) == (False, "expired")
    assert body["details"]["valid_until"].endswith("T00:00:00+08:00")


def test_validation_of_a_scoped_coupon_uses_the_items_and_free_shipping_the_shipping(api_client, shop, member):
    scoped = make_template(
        shop,
        name="母婴9折",
        kind="percent_off",
        value=Decimal(10),
        min_spend=None,
        scope="categories",
        scope_values=["母婴"],
        per_member_limit=2,
    )
    shipping = make_template(shop, name="包邮", kind="free_shipping", value=Decimal(0), min_spend=None)
    items = [
        {"sku": "MB-1", "category": "母婴", "quantity": 2, "unit_price": "45.50"},
        {"sku": "TV-1", "category": "家电", "quantity": 1, "unit_price": "59.00"},
    ]

    on_items = _post(api_client, VALIDATE, _cart(_issue(shop, member, scoped, "a"), member, items=items)).json()
    no_items = _post(api_client, VALIDATE, _cart(_issue(shop, member, scoped, "b"), member)).json()
    free = _post(api_client, VALIDATE, _cart(_issue(shop, member, shipping, "c"), member, shipping_amount="12")).json()

    assert (on_items["valid"], on_items["discount"]) == (True, "9.10")
    assert (no_items["valid"], no_items["reason"]) == (False, "items_required")
    assert (free["discount"], free["benefit"]) == ("12.00", {"free_shipping": True})


@pytest.mark.parametrize(
    "fields",
    [
        {"order_amount": "-1"},
        {"order_amount": "NaN"},
        {"order_amount": "12.345"},
        {"order_amount": "100000000000"},
        {"order_amount": None},
        {"member_id": "abc"},
        {"member_id": 2**63},
        {"code": "AB"},  # too short to be a code
        {"code": "ABCD*1234"},
        {"code": ""},
        {"shipping_amount": "-5"},
        {"items": [{"sku": "A", "quantity": 0, "unit_price": "1"}]},
        {"items": [{"sku": "A", "quantity": 1, "unit_price": "-1"}]},
        {"items": [{"sku": "A", "quantity": 1, "unit_price": "1", "colour": "red"}]},
        {"items": "A"},
        {"coupon_id": 1},
    ],
)
def test_bad_validation_requests_are_400(api_client, shop, member, template, fields):
    coupon = _issue(shop, member, template)

    response = _post(api_client, VALIDATE, _cart(coupon, member, **fields))

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"


def test_validating_an_unknown_code_or_member_is_404(api_client, shop, other_shop, member, template):
    coupon = _issue(shop, member, template)
    foreign_member = make_member(other_shop, 9)
    foreign_coupon = _issue(other_shop, foreign_member, make_template(other_shop))

    answers = [
        _post(api_client, VALIDATE, _cart(coupon, member, code="0000111122223333")),
        _post(api_client, VALIDATE, _cart(foreign_coupon, member)),
        _post(api_client, VALIDATE, _cart(coupon, foreign_member)),
        _post(api_client, VALIDATE, _cart(coupon, member, member_id=999999)),
    ]

    assert [(r.status_code, r.json()["code"]) for r in answers] == [(404, "not_found")] * 4


# --- Redemption ---------------------------------------------------------------------------------------------------


def test_redeeming_answers_201_and_a_retry_for_the_same_order_200_with_the_first_result(
    api_client, shop, member, template
):
    coupon = _issue(shop, member, template)
    body = _cart(coupon, member, order_external_id="TB-1")

    first = _post(api_client, REDEEM, body)
    again = _post(api_client, REDEEM, {**body, "order_amount": "300.00"})

    assert (first.status_code, again.status_code) == (201, 200), first.content
    assert first.json() == again.json()
    redemption = Redemption.objects.get(coupon=coupon)
    assert {k: v for k, v in first.json().items() if k != "redeemed_at"} == {
        "id": redemption.pk,
        "coupon_id": coupon.pk,
        "code": coupon.code,
        "order_external_id": "TB-1",
        "order_amount": "150.00",
        "discount": "20.00",
    }
    assert Coupon.objects.get(pk=coupon.pk).status == "redeemed"
    assert redemption.actor.startswith("api:integration")


def test_redeeming_a_used_coupon_on_another_order_is_409_already_redeemed(api_client, shop, member, template):
    coupon = _issue(shop, member, template)
    _post(api_client, REDEEM, _cart(coupon, member, order_external_id="TB-1"))
    before = (_coupon_rows(shop), list(Redemption.objects.values()))

    response = _post(api_client, REDEEM, _cart(coupon, member, order_external_id="TB-2"))

    assert response.status_code == 409
    assert response.json() == {
        "code": "already_redeemed",
        "message": "This coupon has already been used.",
        "details": {"code": coupon.code},
    }
    assert (_coupon_rows(shop), list(Redemption.objects.values())) == before


def test_a_coupon_that_does_not_apply_is_409_coupon_not_usable_with_the_reason(api_client, shop, member, template):
    coupon = _issue(shop, member, template)
    before = _coupon_rows(shop)

    below = _post(api_client, REDEEM, _cart(coupon, member, order_external_id="TB-1", order_amount="99.99"))
    stranger = _post(api_client, REDEEM, _cart(coupon, make_member(shop, 2), order_external_id="TB-1"))

    assert below.status_code == stranger.status_code == 409
    assert below.json() == {
        "code": "coupon_not_usable",
        "message": "The order does not reach the coupon's minimum spend.",
        "details": {"reason": "below_threshold"},
    }
    assert stranger.json()["details"] == {"reason": "not_this_member"}
    assert _coupon_rows(shop) == before and Redemption.objects.count() == 0


def test_a_second_coupon_on_a_non_stackable_order_is_409_not_stackable(api_client, shop, member, template):
    first = _issue(shop, member, template, "a")
    second = _issue(shop, member, make_template(shop, name="另一张"), "b")
    _post(api_client, REDEEM, _cart(first, member, order_external_id="TB-1"))

    response = _post(api_client, REDEEM, _cart(second, member, order_external_id="TB-1"))

    assert (response.status_code, response.json()["details"]) == (409, {"reason": "not_stackable"})
    assert Coupon.objects.get(pk=second.pk).status == "available"


def test_a_generated_code_is_redeemed_by_whoever_presents_it(api_client, shop, member, template):
    codes_generate(shop=shop, actor=SYSTEM, template=template, count=1)
    bearer = Coupon.objects.get(shop=shop, member__isnull=True)

    response = _post(api_client, REDEEM, _cart(bearer, member, order_external_id="TB-1"))

    assert response.status_code == 201
    assert Coupon.objects.filter(pk=bearer.pk, member=member, status="redeemed").exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"order_amount": "-0.01"},
        {"order_external_id": ""},
        {"order_external_id": "x" * 65},
        {"order_external_id": "TB\x001"},
        {"order_external_id": None},
        {"code": "not a code!"},
        {"discount": "20"},
    ],
)
def test_bad_redemptions_are_400_and_change_nothing(api_client, shop, member, template, fields):
    coupon = _issue(shop, member, template)
    before = _coupon_rows(shop)

    response = _post(api_client, REDEEM, {**_cart(coupon, member, order_external_id="TB-1"), **fields})

    assert response.status_code == 400, response.content
    assert _coupon_rows(shop) == before and Redemption.objects.count() == 0


def test_redeeming_another_shops_coupon_or_for_its_member_is_404_and_changes_nothing(
    api_client, shop, other_shop, member, template
):
    coupon = _issue(shop, member, template)
    foreign_member = make_member(other_shop, 9)
    foreign_coupon = _issue(other_shop, foreign_member, make_template(other_shop))
    before = (_coupon_rows(shop), _coupon_rows(other_shop))

    theirs = _post(api_client, REDEEM, _cart(foreign_coupon, member, order_external_id="TB-1"))
    for_them = _post(api_client, REDEEM, _cart(coupon, foreign_member, order_external_id="TB-1"))

    assert (theirs.status_code, for_them.status_code) == (404, 404)
    assert (_coupon_rows(shop), _coupon_rows(other_shop)) == before and Redemption.objects.count() == 0


def test_a_coupon_redeemed_through_the_api_comes_back_when_the_order_is_refunded(api_client, shop, member, template):
    coupon = _issue(shop, member, template)
    order = {"external_id": "TB-9", "member_id": member.pk, "amount": "150.00", "paid_at": "2026-01-05T10:00:00+08:00"}
    assert _post(api_client, "/api/v1/orders/", order).status_code == 201
    assert _post(api_client, REDEEM, _cart(coupon, member, order_external_id="TB-9")).status_code == 201

    refund = _post(api_client, "/api/v1/orders/TB-9/refunds/", {"external_id": "R-9", "amount": "150.00"})

    assert refund.status_code == 201
    assert Coupon.objects.get(pk=coupon.pk).status == "available"
    again = _post(api_client, VALIDATE, _cart(coupon, member)).json()
    assert (again["valid"], again["discount"]) == (True, "20.00")


# --- The schema ---------------------------------------------------------------------------------------------------


def test_the_schema_documents_the_coupon_operations(api_client):
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()

    operations = {
        (method, path): op["operationId"]
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if "coupons" in op.get("tags", [])
    }
    assert operations == {
        ("get", "/api/v1/coupon-templates/"): "coupon_templates_list",
        ("post", "/api/v1/coupon-templates/"): "coupon_templates_create",
        ("get", "/api/v1/coupon-templates/{id}/"): "coupon_templates_retrieve",
        ("get", "/api/v1/members/{id}/coupons/"): "member_coupons_list",
        ("post", "/api/v1/members/{id}/coupons/"): "member_coupons_issue",
        ("post", "/api/v1/coupons/validate/"): "coupons_validate",
        ("post", "/api/v1/coupons/redeem/"): "coupons_redeem",
    }
    issue = schema["paths"]["/api/v1/members/{id}/coupons/"]["post"]
    assert {"200", "201", "400", "404", "409"} <= set(issue["responses"])
    assert issue["requestBody"]["content"]["application/json"]["examples"]
    assert {"404", "409"} <= set(schema["paths"]["/api/v1/coupons/redeem/"]["post"]["responses"])
    assert "404" in schema["paths"]["/api/v1/coupons/validate/"]["post"]["responses"]
    assert set(schema["components"]["schemas"]["CouponIssue"]["required"]) == {"template_id", "idempotency_key"}
