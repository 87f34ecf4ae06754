"""members.services: enrolment, profile updates and erasure, with exact outcomes and nothing changed on refusal."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from members.errors import ExternalIdTaken, InvalidPhoneError, MemberErased, PhoneTaken
from members.models import ConsentChange, Member, MemberStatus
from members.phones import InvalidPhone, mask_phone, normalize_phone
from members.services import Enrolment, member_enroll, member_erase, member_set_frozen, member_update
from orders.services import OrderInput, order_record
from shops.models import AuditLogEntry
from shops.services import SYSTEM, Actor
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"


def _snapshot(member: Member) -> dict:
    return model_to_dict(Member.objects.get(pk=member.pk), exclude=["updated_at"])


def _consents(member: Member) -> list[tuple]:
    return sorted(
        ConsentChange.objects.filter(member=member).values_list("channel", "granted", "source"),
    )


@pytest.mark.parametrize(
    "raw",
    ["13800138000", "138 0013 8000", "138-0013-8000", "+86 13800138000", "+86 138-0013-8000", "8613800138000"],
)
def test_normalize_phone_gives_e164_for_every_common_format(raw):
    assert normalize_phone(raw) == PHONE


@pytest.mark.parametrize("raw", ["", "   ", "12345", "abc", "1380013800", "138001380001", "+1 555", "0" * 40, None])
def test_normalize_phone_refuses_what_is_not_a_phone(raw):
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_mask_phone_hides_the_middle_four_digits():
    assert mask_phone(PHONE) == "138****8000"
    assert mask_phone("") == ""


def test_enrol_creates_a_member_with_its_profile_and_consent_evidence(shop):
    member, created = member_enroll(
        shop=shop,
        data=Enrolment(
            phone="138 0013 8000",
            name="张三",
            gender="female",
            birthday_month=5,
            birthday_day=20,
            region="上海",
            email="zs@example.com",
            external_id="buyer-1",
            channel="qr",
            consents={"sms": True, "email": False},
        ),
        source="landing",
    )

    assert created is True
    member.refresh_from_db()
    assert (member.shop_id, member.phone, member.name, member.gender) == (shop.pk, PHONE, "张三", "female")
    assert (member.birthday_month, member.birthday_day, member.birth_year) == (5, 20, None)
    assert (member.region, member.email, member.external_id, member.join_channel) == (
        "上海",
        "zs@example.com",
        "buyer-1",
        "qr",
    )
    assert (member.consent_sms, member.consent_push, member.consent_email) == (True, False, False)
    assert (member.status, member.lifetime_spend, member.order_count) == (MemberStatus.ACTIVE, Decimal("0.00"), 0)
    assert (member.first_order_at, member.last_order_at) == (None, None)
    assert abs(timezone.now() - member.joined_at) < timedelta(seconds=5)
    assert _consents(member) == [("email", False, "landing"), ("sms", True, "landing")]


@pytest.mark.parametrize("again", ["13800138000", "+86 138 0013 8000", "8613800138000", "+8613800138000"])
def test_enrolling_a_member_phone_again_in_any_format_returns_that_member_and_changes_nothing(shop, again):
    # given
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三", consents={"sms": True}))
    before = _snapshot(member)

    # when
    again_member, created = member_enroll(
        shop=shop,
        data=Enrolment(phone=again, name="李四", email="ls@example.com", external_id="x-9", consents={"push": True}),
    )

    # then
    assert (again_member.pk, created) == (member.pk, False)
    assert _snapshot(member) == before
    assert Member.objects.filter(shop=shop).count() == 1
    assert _consents(member) == [("sms", True, "api")]


@pytest.mark.parametrize("phone", ["12345", "not a phone", "", "+86 1380013800"])
def test_enrol_refuses_a_malformed_phone_and_stores_nothing(shop, phone):
    with pytest.raises(InvalidPhoneError) as exc:
        member_enroll(shop=shop, data=Enrolment(phone=phone, consents={"sms": True}))
    assert exc.value.code == "invalid_phone"
    assert exc.value.details == {"phone": phone}
    assert Member.objects.count() == 0
    assert ConsentChange.objects.count() == 0


def test_enrol_refuses_a_platform_id_of_another_member_and_stores_nothing(shop):
    member_enroll(shop=shop, data=Enrolment(phone="13800138000", external_id="buyer-1"))
    with pytest.raises(ExternalIdTaken) as exc:
        member_enroll(shop=shop, data=Enrolment(phone="13900139000", external_id="buyer-1", consents={"sms": True}))
    assert (exc.value.code, exc.value.status) == ("external_id_taken", 409)
    assert list(Member.objects.values_list("phone", flat=True)) == [PHONE]
    assert ConsentChange.objects.count() == 0


def test_the_same_phone_and_platform_id_are_separate_in_another_shop(shop, other_shop):
    mine, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", external_id="buyer-1"))
    theirs, created = member_enroll(shop=other_shop, data=Enrolment(phone="13800138000", external_id="buyer-1"))
    assert created is True
    assert theirs.pk != mine.pk
    assert (theirs.shop_id, theirs.phone) == (other_shop.pk, PHONE)


def test_update_changes_profile_fields_and_audits_before_and_after(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三"))
    actor = Actor.for_user(UserFactory(email="clerk@shop-a.example"))

    member_update(
        shop=shop, member=member, actor=actor, name="张三丰", region="杭州", birthday_month=2, birthday_day=29
    )

    member.refresh_from_db()
    assert (member.name, member.region, member.birthday_month, member.birthday_day) == ("张三丰", "杭州", 2, 29)
    entry = AuditLogEntry.objects.get(shop=shop, action="member.update")
    assert entry.actor_label == "clerk@shop-a.example"
    assert entry.object_id == str(member.pk)
    assert entry.changes == {
        "name": ["张三", "张三丰"],
        "region": ["", "杭州"],
        "birthday_month": ["", "2"],
        "birthday_day": ["", "29"],
    }


def test_update_normalises_a_new_phone_and_keeps_the_number_out_of_the_audit_log(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))

    member_update(shop=shop, member=member, actor=SYSTEM, phone="+86 139 0013 9000")

    member.refresh_from_db()
    assert member.phone == "+8613900139000"
    entry = AuditLogEntry.objects.get(shop=shop, action="member.update")
    assert entry.changes == {"phone": ["…", "…"]}
    stored = str(AuditLogEntry.objects.filter(shop=shop).values())
    assert "13900139000" not in stored and "13800138000" not in stored


def test_update_to_the_same_phone_in_another_format_changes_nothing_and_audits_nothing(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    before = _snapshot(member)

    member_update(shop=shop, member=member, actor=SYSTEM, phone="+86 138 0013 8000")

    assert _snapshot(member) == before
    assert not AuditLogEntry.objects.filter(action="member.update").exists()


def test_update_refuses_another_members_phone_and_changes_nothing(shop):
    member_enroll(shop=shop, data=Enrolment(phone="13900139000"))
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三"))
    before = _snapshot(member)

    with pytest.raises(PhoneTaken) as exc:
        member_update(shop=shop, member=member, actor=SYSTEM, phone="139 0013 9000", name="改名")

    assert (exc.value.code, exc.value.status) == ("phone_taken", 409)
    assert _snapshot(member) == before
    assert not AuditLogEntry.objects.filter(action="member.update").exists()


def test_update_refuses_a_malformed_phone_and_changes_nothing(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    before = _snapshot(member)
    with pytest.raises(InvalidPhoneError):
        member_update(shop=shop, member=member, actor=SYSTEM, phone="12345", name="改名")
    assert _snapshot(member) == before


def test_update_refuses_another_members_platform_id_and_changes_nothing(shop):
    member_enroll(shop=shop, data=Enrolment(phone="13900139000", external_id="buyer-1"))
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    before = _snapshot(member)
    with pytest.raises(ExternalIdTaken):
        member_update(shop=shop, member=member, actor=SYSTEM, external_id="buyer-1", name="改名")
    assert _snapshot(member) == before


def test_update_may_take_a_phone_that_only_an_erased_member_had(shop):
    gone, _ = member_enroll(shop=shop, data=Enrolment(phone="13900139000"))
    member_erase(shop=shop, member=gone, actor=SYSTEM)
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))

    member_update(shop=shop, member=member, actor=SYSTEM, phone="13900139000")

    member.refresh_from_db()
    assert member.phone == "+8613900139000"


def test_update_records_only_real_consent_changes(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", consents={"sms": True}))

    member_update(shop=shop, member=member, actor=SYSTEM, source="member_centre", consents={"sms": True, "email": True})

    member.refresh_from_db()
    assert (member.consent_sms, member.consent_push, member.consent_email) == (True, False, True)
    assert _consents(member) == [("email", True, "member_centre"), ("sms", True, "api")]
    assert AuditLogEntry.objects.get(action="member.update").changes == {"consent_email": ["False", "True"]}


def test_update_with_nothing_new_audits_nothing(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三", consents={"sms": True}))
    member_update(shop=shop, member=member, actor=SYSTEM, name="张三", consents={"sms": True})
    assert not AuditLogEntry.objects.filter(action="member.update").exists()
    assert _consents(member) == [("sms", True, "api")]


def test_an_erased_member_cannot_be_updated(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    member_erase(shop=shop, member=member, actor=SYSTEM)
    before = _snapshot(member)
    with pytest.raises(MemberErased):
        member_update(shop=shop, member=member, actor=SYSTEM, name="回来")
    assert _snapshot(member) == before


def test_erasure_blanks_personal_data_withdraws_consent_and_keeps_the_aggregates(shop):
    # given: a member with an order and consents
    member, _ = member_enroll(
        shop=shop,
        data=Enrolment(
            phone="13800138000", name="张三", email="zs@example.com", external_id="b1", consents={"sms": True}
        ),
    )
    paid_at = timezone.now() - timedelta(days=3)
    order_record(
        shop=shop, data=OrderInput(external_id="O1", member_id=member.pk, amount=Decimal("99.90"), paid_at=paid_at)
    )

    # when
    member_erase(shop=shop, member=member, actor=SYSTEM)

    # then
    member.refresh_from_db()
    assert (member.status, member.phone, member.name, member.email, member.external_id) == ("erased", "", "", "", "")
    assert (member.consent_sms, member.birthday_month) == (False, None)
    assert (member.lifetime_spend, member.order_count, member.last_order_at) == (Decimal("99.90"), 1, paid_at)
    assert _consents(member) == [("sms", False, "erasure"), ("sms", True, "api")]
    # and the phone may enrol again as a new member
    again, created = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    assert created is True and again.pk != member.pk


def test_freeze_and_unfreeze_are_audited_once(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    member_set_frozen(shop=shop, member=member, actor=SYSTEM, frozen=True)
    member_set_frozen(shop=shop, member=member, actor=SYSTEM, frozen=True)
    assert Member.objects.get(pk=member.pk).status == "frozen"
    member_set_frozen(shop=shop, member=member, actor=SYSTEM, frozen=False)
    assert Member.objects.get(pk=member.pk).status == "active"
    actions = list(AuditLogEntry.objects.filter(shop=shop, object_type="member").values_list("action", flat=True))
    assert sorted(actions) == ["member.freeze", "member.unfreeze"]
