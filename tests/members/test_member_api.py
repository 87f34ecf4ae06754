"""The members API (SPEC section 10): enrol, search, read, update; exact bodies, and nothing changed on refusal."""

from datetime import datetime, timedelta

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone
from rest_framework.test import APIClient

from members.models import ConsentChange, Member
from members.services import Enrolment, member_enroll
from members.tags import member_tag_change, tag_create
from shops.models import AuditLogEntry
from shops.services import SYSTEM
from tests.factories import make_api_key
from tiers.models import Tier

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert body["message"]
    return body


def _snapshot(member: Member) -> dict:
    return model_to_dict(Member.objects.get(pk=member.pk), exclude=["updated_at"])


def _state() -> tuple:
    """Everything a refused member write must leave alone."""
    members = sorted(tuple(sorted(model_to_dict(m, exclude=["updated_at"]).items())) for m in Member.objects.all())
    consents = sorted(ConsentChange.objects.values_list("member_id", "channel", "granted", "source"))
    return members, consents, AuditLogEntry.objects.filter(action__startswith="member.").count()


def _client_for(shop) -> APIClient:
    _key, secret = make_api_key(shop, name="other")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_enrol_answers_201_with_the_full_member_object(api_client, shop):
    response = api_client.post(
        "/api/v1/members/",
        {
            "phone": "138 0013 8000",
            "name": "张三",
            "gender": "female",
            "birthday": "1990-05-20",
            "region": "上海",
            "email": "zs@example.com",
            "external_id": "buyer-1",
            "channel": "pos",
            "consents": {"sms": True, "push": False},
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    member = Member.objects.get(shop=shop)
    assert _when(body.pop("joined_at")) == member.joined_at
    assert body == {
        "id": member.pk,
        "phone": PHONE,
        "name": "张三",
        "gender": "female",
        "birthday": {"month": 5, "day": 20, "year": 1990},
        "region": "上海",
        "email": "zs@example.com",
        "external_id": "buyer-1",
        "status": "active",
        "join_channel": "pos",
        "lifetime_spend": "0.00",
        "order_count": 0,
        "first_order_at": None,
        "last_order_at": None,
        "consents": {"sms": True, "push": False, "email": False, "service": True},
        "tags": [],
        "tier": {"id": Tier.objects.get(shop=shop, rank=0).pk, "name": "普通会员", "rank": 0},
        "points_balance": 0,
        "points_pending": 0,
        "growth_value": 0,
        "churn_risk": None,  # not scored yet (analytics.clv)
        "p_alive": None,
        "predicted_value": None,
    }
    assert (member.phone, member.birth_year, member.join_channel) == (PHONE, 1990, "pos")


def test_the_member_object_carries_every_field_the_contract_names(api_client, shop):
    body = api_client.post("/api/v1/members/", {"phone": "13800138000"}, format="json").json()
    base = Tier.objects.get(shop=shop, rank=0)
    assert body["tier"] == {"id": base.pk, "name": "普通会员", "rank": 0}
    assert (body["points_balance"], body["points_pending"], body["growth_value"]) == (0, 0, 0)


@pytest.mark.parametrize("again", ["138 0013 8000", "+86 13800138000", "8613800138000", "+86 138-0013-8000"])
def test_enrolling_a_member_phone_again_answers_200_with_that_member_and_changes_nothing(api_client, again):
    # given
    first = api_client.post(
        "/api/v1/members/", {"phone": "13800138000", "name": "张三", "consents": {"sms": True}}, format="json"
    )
    assert first.status_code == 201
    before = _state()

    # when: the same phone in another format, with other profile data
    again_response = api_client.post(
        "/api/v1/members/",
        {"phone": again, "name": "李四", "email": "ls@example.com", "consents": {"sms": False, "push": True}},
        format="json",
    )

    # then
    assert again_response.status_code == 200, again_response.content
    assert again_response.json() == first.json()
    assert _state() == before


@pytest.mark.parametrize("phone", ["12345", "abc", "1380013800", "+1 555 0100", "", " ", "0" * 33])
def test_enrol_refuses_a_malformed_phone_and_stores_nothing(api_client, phone):
    response = api_client.post("/api/v1/members/", {"phone": phone, "consents": {"sms": True}}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == ("invalid" if len(phone.strip()) == 0 or len(phone) > 32 else "invalid_phone")
    assert Member.objects.count() == 0
    assert ConsentChange.objects.count() == 0


def test_enrol_names_an_invalid_phone_in_the_details(api_client):
    body = _error(api_client.post("/api/v1/members/", {"phone": "12345"}, format="json"), 400, "invalid_phone")
    assert body["details"] == {"phone": "12345"}


def test_enrol_refuses_an_unknown_field_naming_it_and_stores_nothing(api_client):
    response = api_client.post(
        "/api/v1/members/", {"phone": "13800138000", "nickname": "小张", "vip": True}, format="json"
    )
    body = _error(response, 400, "invalid")
    assert set(body["details"]) == {"nickname", "vip"}
    assert Member.objects.count() == 0


def test_enrol_without_a_phone_is_400(api_client):
    body = _error(api_client.post("/api/v1/members/", {"name": "张三"}, format="json"), 400, "invalid")
    assert set(body["details"]) == {"phone"}
    assert Member.objects.count() == 0


@pytest.mark.parametrize(
    ("birthday", "expected"),
    [
        ("05-20", {"month": 5, "day": 20, "year": None}),
        ("02-29", {"month": 2, "day": 29, "year": None}),
        ("12-31", {"month": 12, "day": 31, "year": None}),
        ("1990-05-20", {"month": 5, "day": 20, "year": 1990}),
        ("2000-02-29", {"month": 2, "day": 29, "year": 2000}),
    ],
)
def test_enrol_takes_a_birthday_with_or_without_its_year(api_client, birthday, expected):
    response = api_client.post("/api/v1/members/", {"phone": "13800138000", "birthday": birthday}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["birthday"] == expected
    member = Member.objects.get()
    assert (member.birthday_month, member.birthday_day, member.birth_year) == (
        expected["month"],
        expected["day"],
        expected["year"],
    )


@pytest.mark.parametrize(
    "birthday", ["02-30", "04-31", "13-01", "00-10", "5-20", "20-05", "2023-02-29", "1899-12-31", "2999-01-01", "x"]
)
def test_enrol_refuses_a_birthday_that_is_not_a_real_date_and_stores_nothing(api_client, birthday):
    body = _error(
        api_client.post("/api/v1/members/", {"phone": "13800138000", "birthday": birthday}, format="json"),
        400,
        "invalid",
    )
    assert set(body["details"]) == {"birthday"}
    assert Member.objects.count() == 0


def test_enrol_records_each_consent_given_as_evidence(api_client):
    response = api_client.post(
        "/api/v1/members/",
        {"phone": "13800138000", "consents": {"sms": True, "push": False, "email": True}},
        format="json",
    )
    assert response.status_code == 201
    member = Member.objects.get()
    assert response.json()["consents"] == {"sms": True, "push": False, "email": True, "service": True}
    assert sorted(ConsentChange.objects.filter(member=member).values_list("channel", "granted", "source")) == [
        ("email", True, "api"),
        ("push", False, "api"),
        ("sms", True, "api"),
    ]
    assert all(abs(timezone.now() - c.changed_at) < timedelta(seconds=5) for c in ConsentChange.objects.all())


def test_enrol_without_consents_records_none_and_defaults_to_no_marketing(api_client):
    response = api_client.post("/api/v1/members/", {"phone": "13800138000"}, format="json")
    assert response.json()["consents"] == {"sms": False, "push": False, "email": False, "service": True}
    assert ConsentChange.objects.count() == 0


@pytest.mark.parametrize("consents", [{"wechat": True}, {"sms": "maybe"}, ["sms"], "sms"])
def test_enrol_refuses_unknown_consent_channels_or_values_and_stores_nothing(api_client, consents):
    body = _error(
        api_client.post("/api/v1/members/", {"phone": "13800138000", "consents": consents}, format="json"),
        400,
        "invalid",
    )
    assert set(body["details"]) == {"consents"}
    assert Member.objects.count() == 0
    assert ConsentChange.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("gender", "other"), ("email", "not-an-email"), ("name", "名" * 51), ("external_id", "x" * 65)],
)
def test_enrol_refuses_bad_profile_fields_and_stores_nothing(api_client, field, value):
    body = _error(
        api_client.post("/api/v1/members/", {"phone": "13800138000", field: value}, format="json"), 400, "invalid"
    )
    assert set(body["details"]) == {field}
    assert Member.objects.count() == 0


HIDDEN = {"BEL": "\x07", "ESC": "\x1b[31m", "RLO": "\u202e", "RLI": "\u2067", "LRM": "\u200e", "C1": "\x9b"}


@pytest.mark.parametrize("field", ["name", "region", "external_id", "wechat_openid"])
@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())
def test_enrol_and_update_refuse_control_and_text_direction_characters_and_store_nothing(api_client, shop, field, char):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13900139000", name="李四"))
    before = _state()

    enrol = api_client.post("/api/v1/members/", {"phone": "13800138000", field: f"张{char}三"}, format="json")
    update = api_client.patch(f"/api/v1/members/{member.pk}/", {field: f"张{char}三"}, format="json")

    for response in (enrol, update):
        body = _error(response, 400, "invalid")
        assert list(body["details"]) == [field]
        assert "U+" in body["details"][field][0]
    assert _state() == before


def test_names_in_chinese_with_emoji_and_punctuation_are_kept_as_sent(api_client):
    name = "张三👨\u200d👩\u200d👧「小宝」·❤️"
    response = api_client.post("/api/v1/members/", {"phone": "13800138000", "name": name}, format="json")
    assert response.status_code == 201, response.content
    assert Member.objects.get().name == name


def test_enrol_with_another_members_platform_id_is_409_and_stores_nothing(api_client, shop):
    member_enroll(shop=shop, data=Enrolment(phone="13900139000", external_id="buyer-1"))
    before = _state()
    response = api_client.post(
        "/api/v1/members/", {"phone": "13800138000", "external_id": "buyer-1", "consents": {"sms": True}}, format="json"
    )
    body = _error(response, 409, "external_id_taken")
    assert body["details"] == {"external_id": "buyer-1"}
    assert _state() == before


@pytest.mark.parametrize("body", ['{"phone": ', "phone=13800138000"])
def test_enrol_refuses_a_body_that_is_not_json(api_client, body):
    response = api_client.post("/api/v1/members/", body, content_type="application/json")
    _error(response, 400, "parse_error")
    assert Member.objects.count() == 0


def test_enrol_refuses_a_json_list(api_client):
    _error(api_client.post("/api/v1/members/", [{"phone": "13800138000"}], format="json"), 400, "invalid")
    assert Member.objects.count() == 0


def test_enrol_without_a_key_is_401_and_stores_nothing(shop):
    response = APIClient().post("/api/v1/members/", {"phone": "13800138000"}, format="json")
    _error(response, 401, "not_authenticated")
    assert Member.objects.count() == 0


@pytest.mark.parametrize(
    "query", ["13800138000", "138 0013 8000", "+86 13800138000", "8613800138000", "+8613800138000"]
)
def test_search_by_phone_in_any_format(api_client, shop, other_shop, query):
    mine, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三"))
    member_enroll(shop=shop, data=Enrolment(phone="13900139000"))
    member_enroll(shop=other_shop, data=Enrolment(phone="13800138000", name="别家"))

    response = api_client.get("/api/v1/members/", {"phone": query})

    assert response.status_code == 200, response.content
    assert [(m["id"], m["phone"], m["name"]) for m in response.json()["results"]] == [(mine.pk, PHONE, "张三")]


def test_search_by_platform_id(api_client, shop, other_shop):
    mine, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", external_id="buyer-1"))
    member_enroll(shop=shop, data=Enrolment(phone="13900139000", external_id="buyer-2"))
    member_enroll(shop=other_shop, data=Enrolment(phone="13700137000", external_id="buyer-1"))

    response = api_client.get("/api/v1/members/", {"external_id": "buyer-1"})

    assert [m["id"] for m in response.json()["results"]] == [mine.pk]


def test_search_finds_nothing_for_an_unknown_phone_or_another_shops_member(api_client, shop, other_shop):
    member_enroll(shop=other_shop, data=Enrolment(phone="13800138000", external_id="buyer-1"))
    assert api_client.get("/api/v1/members/", {"phone": "13800138000"}).json()["results"] == []
    assert api_client.get("/api/v1/members/", {"external_id": "buyer-1"}).json()["results"] == []


def test_search_with_a_malformed_phone_is_400(api_client, shop):
    _error(api_client.get("/api/v1/members/", {"phone": "12345"}), 400, "invalid_phone")


@pytest.mark.parametrize("param", ["external_id", "tag"])
def test_a_nul_byte_in_a_search_parameter_is_not_a_500(api_client, shop, param):
    response = api_client.get("/api/v1/members/", {param: "a\x00b"})
    assert response.status_code in {200, 400}


FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@pytest.mark.parametrize("param", ["tag", "tier"])
@pytest.mark.parametrize("spelling", ["superscript", "fullwidth", "beyond bigint", "signed", "spaced"])
def test_a_tag_or_tier_id_not_in_ascii_digits_within_bigint_names_nothing(api_client, shop, param, spelling):
    # given: a tag and a tier whose ids are spelled other than in ASCII digits (int() reads some, refuses others)
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    tag = tag_create(shop=shop, actor=SYSTEM, name="老客")
    member_tag_change(shop=shop, actor=SYSTEM, member=member, tag=tag)
    pk = tag.pk if param == "tag" else Tier.objects.get(shop=shop, rank=0).pk
    value = {
        "superscript": str(pk).translate(SUPERSCRIPT),
        "fullwidth": str(pk).translate(FULLWIDTH),
        "beyond bigint": "99999999999999999999",
        "signed": f"+{pk}",
        "spaced": f" {pk}",
    }[spelling]

    # when
    response = api_client.get("/api/v1/members/", {param: value})

    # then: the 400 of an unknown tag or tier, naming what was sent
    body = _error(response, 400, f"unknown_{param}")
    assert body["details"] == {param: value}


def test_a_tag_named_in_other_digits_is_found_by_its_name(api_client, shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    tag = tag_create(shop=shop, actor=SYSTEM, name="¹²")
    member_tag_change(shop=shop, actor=SYSTEM, member=member, tag=tag)

    response = api_client.get("/api/v1/members/", {"tag": "¹²"})

    assert response.status_code == 200, response.content
    assert [m["id"] for m in response.json()["results"]] == [member.pk]


def test_list_shows_only_the_keys_shop(api_client, shop, other_shop):
    a, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    b, _ = member_enroll(shop=shop, data=Enrolment(phone="13900139000"))
    member_enroll(shop=other_shop, data=Enrolment(phone="13700137000"))
    body = api_client.get("/api/v1/members/").json()
    assert [m["id"] for m in body["results"]] == [b.pk, a.pk]


def test_read_a_member(api_client, shop):
    member, _ = member_enroll(
        shop=shop, data=Enrolment(phone="13800138000", name="张三", birthday_month=5, birthday_day=20)
    )
    response = api_client.get(f"/api/v1/members/{member.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["phone"], body["name"], body["birthday"]) == (
        member.pk,
        PHONE,
        "张三",
        {"month": 5, "day": 20, "year": None},
    )


def test_update_profile_fields(api_client, shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三"))

    response = api_client.patch(
        f"/api/v1/members/{member.pk}/",
        {"name": "张三丰", "gender": "male", "birthday": "02-29", "region": "杭州", "email": "z@example.com"},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["gender"], body["birthday"], body["region"], body["email"]) == (
        "张三丰",
        "male",
        {"month": 2, "day": 29, "year": None},
        "杭州",
        "z@example.com",
    )
    member.refresh_from_db()
    assert (member.name, member.gender, member.birthday_month, member.birthday_day) == ("张三丰", "male", 2, 29)
    assert (member.region, member.email, member.phone) == ("杭州", "z@example.com", PHONE)


def test_update_normalises_a_new_phone_and_audits_without_the_number(api_client, api_key, shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))

    response = api_client.patch(f"/api/v1/members/{member.pk}/", {"phone": "+86 139-0013-9000"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["phone"] == "+8613900139000"
    member.refresh_from_db()
    assert member.phone == "+8613900139000"
    entry = AuditLogEntry.objects.get(shop=shop, action="member.update")
    assert (entry.actor_api_key_id, entry.object_id) == (api_key[0].pk, str(member.pk))
    assert entry.changes == {"phone": ["…", "…"]}
    dump = str(list(AuditLogEntry.objects.values()))
    assert "13900139000" not in dump and "13800138000" not in dump


def test_update_to_another_members_phone_is_409_and_changes_nothing(api_client, shop):
    member_enroll(shop=shop, data=Enrolment(phone="13900139000"))
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三"))
    before = _state()

    response = api_client.patch(
        f"/api/v1/members/{member.pk}/", {"phone": "139 0013 9000", "name": "改名"}, format="json"
    )

    _error(response, 409, "phone_taken")
    assert _state() == before


@pytest.mark.parametrize(
    "body",
    [{"phone": "12345"}, {"birthday": "02-30"}, {"nickname": "x"}, {"consents": {"fax": True}}, {"gender": "x"}],
)
def test_a_refused_update_changes_nothing(api_client, shop, body):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三"))
    before = _state()
    response = api_client.patch(f"/api/v1/members/{member.pk}/", {"name": "改名", **body}, format="json")
    assert response.status_code == 400, response.content
    assert _state() == before


def test_update_records_consent_changes(api_client, shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", consents={"sms": True}))

    response = api_client.patch(
        f"/api/v1/members/{member.pk}/", {"consents": {"sms": False, "push": False, "email": True}}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["consents"] == {"sms": False, "push": False, "email": True, "service": True}
    assert sorted(ConsentChange.objects.filter(member=member).values_list("channel", "granted", "source")) == [
        ("email", True, "api"),
        ("sms", False, "api"),
        ("sms", True, "api"),
    ]
    assert AuditLogEntry.objects.get(action="member.update").changes == {
        "consent_sms": ["True", "False"],
        "consent_email": ["False", "True"],
    }


def test_a_missing_member_is_404(api_client, shop):
    _error(api_client.get("/api/v1/members/999999/"), 404, "not_found")
    _error(api_client.patch("/api/v1/members/999999/", {"name": "x"}, format="json"), 404, "not_found")


def test_another_shops_member_is_404_to_read_and_to_change_and_stays_unchanged(api_client, other_shop):
    theirs, _ = member_enroll(shop=other_shop, data=Enrolment(phone="13800138000", name="别家"))
    before = _state()

    _error(api_client.get(f"/api/v1/members/{theirs.pk}/"), 404, "not_found")
    _error(
        api_client.patch(
            f"/api/v1/members/{theirs.pk}/",
            {"name": "改名", "phone": "13900139000", "consents": {"sms": True}},
            format="json",
        ),
        404,
        "not_found",
    )

    assert _state() == before


def test_another_shops_key_cannot_read_or_change_this_shops_members(shop, other_shop, api_client):
    mine, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三", external_id="buyer-1"))
    before = _snapshot(mine)
    theirs = _client_for(other_shop)

    _error(theirs.get(f"/api/v1/members/{mine.pk}/"), 404, "not_found")
    _error(theirs.patch(f"/api/v1/members/{mine.pk}/", {"name": "抢"}, format="json"), 404, "not_found")
    assert theirs.get("/api/v1/members/", {"phone": "13800138000"}).json()["results"] == []
    assert theirs.get("/api/v1/members/", {"external_id": "buyer-1"}).json()["results"] == []
    # enrolling the same phone through the other key makes the other shop's own member
    response = theirs.post("/api/v1/members/", {"phone": "13800138000"}, format="json")
    assert response.status_code == 201
    assert response.json()["id"] != mine.pk

    assert _snapshot(mine) == before
    assert not AuditLogEntry.objects.filter(shop=shop, action="member.update").exists()
