"""A member's tier changes on their profile's timeline (with the reason) and in their privacy export, with the
growth value ledger (tiers.member_data, registered for the extension point MEMBER_DATA)."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from members.services import Enrolment, member_enroll
from orders.services import OrderInput, order_record
from shops.services import SYSTEM
from tests.pages import url
from tiers.models import Tier
from tiers.services import tier_assign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def enrol(shop, phone):
    return member_enroll(shop=shop, data=Enrolment(phone=phone, name="李四"))[0]


def buy(shop, member, external_id, amount):
    data = OrderInput(
        external_id=external_id,
        member_id=member.pk,
        amount=Decimal(amount),
        paid_at=timezone.now() - timedelta(minutes=5),
    )
    order_record(shop=shop, data=data)


@pytest.fixture
def member(shop, other_shop):
    # given: an upgrade by spend (500 reaches 高级会员), then a manual assignment with a note
    member = enrol(shop, "13800138000")
    buy(shop, member, "T1", "600.00")
    tier_assign(
        shop=shop, member=member, tier=Tier.objects.get(shop=shop, name="VIP会员"), note="店长特批", actor=SYSTEM
    )
    # and a member of another shop with a tier change of their own, which must never show
    stranger = enrol(other_shop, "13800138000")
    buy(other_shop, stranger, "T1", "9000.00")
    return member


def test_the_timeline_shows_each_tier_change_with_its_reason(owner_client, shop, member):
    response = owner_client.get(url("member", shop, member.pk))

    assert response.status_code == 200
    tier_events = [(e.title, e.detail) for e in response.context["timeline"] if e.kind == "tier"]
    assert tier_events == [
        ("Tier 高级会员 → VIP会员", "Assigned by staff · 店长特批"),
        ("Tier 普通会员 → 高级会员", "Qualified for a higher tier"),
    ]
    # the timeline only: the profile's tier card names the shop's own ladder (至尊VIP is its next tier)
    html = response.content.decode().split('data-testid="member-timeline"')[1]
    assert "Tier 普通会员 → 高级会员" in html and "店长特批" in html
    assert "至尊VIP" not in html  # the other shop's member went further; none of it shows here


def test_the_privacy_export_holds_the_tier_history_and_the_growth_ledger(owner_client, shop, member):
    data = json.loads(owner_client.post(url("member_export", shop, member.pk)).content)

    assert [(c["from_tier"], c["to_tier"], c["reason"], c["note"]) for c in data["tier_changes"]] == [
        ("普通会员", "高级会员", "upgrade", ""),
        ("高级会员", "VIP会员", "manual", "店长特批"),
    ]
    assert [(g["kind"], g["value"], g["order_external_id"]) for g in data["growth_entries"]] == [("earn", 600, "T1")]
    assert [(e["kind"], e["points"]) for e in data["points_entries"]] == [("earn", 600)]


def test_a_member_without_tier_changes_has_no_tier_events(owner_client, shop):
    member = enrol(shop, "13800138001")
    response = owner_client.get(url("member", shop, member.pk))
    assert [e.kind for e in response.context["timeline"]] == ["joined"]
    data = json.loads(owner_client.post(url("member_export", shop, member.pk)).content)
    assert (data["tier_changes"], data["growth_entries"]) == ([], [])
