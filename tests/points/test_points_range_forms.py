"""Every dashboard form that takes an amount of points or growth value (issue 16) stores an amount past 32 bits
exactly, and refuses one above MAX_POINTS at its field with a message, storing nothing: the points rules, a bonus
rule, a staff adjustment, a coupon's and a gift's points price, a channel's welcome points and the referral
rewards. (The tier editor's growth threshold: tests/tiers/test_tier_views.py.)"""

import pytest

from coupons.models import CouponTemplate, Gift
from members.models import MAX_POINTS, Member
from members.services import Enrolment, member_enroll
from points.models import BonusRule, PointsEntry, PointsProgram
from points.selectors import points_reconcile
from recruitment.models import Channel, ReferralProgram
from tests.pages import url

pytestmark = pytest.mark.django_db
BIG = 4_294_967_396  # 2**32 + 100
ABOVE = str(MAX_POINTS + 1)
TOO_MANY = "Ensure this value is less than or equal to 1000000000000."

RULES_FORM = {
    "points_per_unit": "1.00",
    "rounding": "down",
    "per_order_cap": "",
    "excluded_categories": "",
    "pending_days": "0",
    "expiry_mode": "following_year_end",
    "expiry_period": "12",
    "expiry_rounding": "none",
    "reminder_days": "30",
    "points_per_cash_unit": "100",
    "cash_min_points": "0",
    "cash_max_share": "50",
    "profile_completion_points": "0",
    "profile_completion_growth": "0",
    "growth_per_unit": "1.00",
}
BONUS_FORM = {
    "name": "母婴双倍",
    "kind": "category",
    "match": "母婴",
    "starts_on": "",
    "ends_on": "",
    "multiplier": "2",
    "extra_points": "0",
    "active": "on",
}
TEMPLATE_FORM = {
    "name": "积分兑换券",
    "kind": "amount_off",
    "value": "20",
    "min_spend": "100",
    "max_discount": "",
    "item_sku": "",
    "item_name": "",
    "description": "",
    "scope": "order",
    "scope_values": "",
    "use_channel": "both",
    "on_refund": "restore",
    "audience": "everyone",
    "new_member_days": "30",
    "claim_starts_at": "",
    "claim_ends_at": "",
    "window": "days",
    "valid_days": "30",
    "valid_from": "",
    "valid_until": "",
    "stock": "",
    "per_member_limit": "1",
    "points_price": "",
}
GIFT_FORM = {"name": "帆布袋", "description": "", "points_price": "", "stock": "", "active": "on"}
CHANNEL_FORM = {
    "name": "静安店收银台",
    "kind": "counter",
    "headline": "",
    "benefits": "",
    "valid_from": "",
    "valid_until": "",
    "welcome_points": "0",
}
REFERRAL_FORM = {
    "enabled": "on",
    "trigger": "first_purchase",
    "inviter_points": "300",
    "invitee_points": "100",
    "inviter_coupon": "",
    "invitee_coupon": "",
    "inviter_cap": "10",
    "cap_period": "week",
    "ip_daily_limit": "2",
}


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def _program(shop) -> dict:
    return PointsProgram.objects.filter(shop=shop).values().get()


# Each form: its page, the data it posts, the field under test, and what it stored of that field (None: nothing).
FORMS = {
    "points rules": ("points_rules", RULES_FORM, "cash_min_points", lambda shop: _program(shop)["cash_min_points"]),
    "points per cash unit": (
        "points_rules",
        RULES_FORM,
        "points_per_cash_unit",
        lambda shop: _program(shop)["points_per_cash_unit"],
    ),
    "profile points": (
        "points_rules",
        RULES_FORM,
        "profile_completion_points",
        lambda shop: _program(shop)["profile_completion_points"],
    ),
    "profile growth": (
        "points_rules",
        RULES_FORM,
        "profile_completion_growth",
        lambda shop: _program(shop)["profile_completion_growth"],
    ),
    "cap per order": ("points_rules", RULES_FORM, "per_order_cap", lambda shop: _program(shop)["per_order_cap"]),
    "bonus rule": (
        "points_bonus_create",
        BONUS_FORM,
        "extra_points",
        lambda shop: BonusRule.objects.values_list("extra_points", flat=True).first(),
    ),
    "coupon price": (
        "coupon_template_create",
        TEMPLATE_FORM,
        "points_price",
        lambda shop: CouponTemplate.objects.values_list("points_price", flat=True).first(),
    ),
    "gift price": (
        "coupon_mall_gift_create",
        GIFT_FORM,
        "points_price",
        lambda shop: Gift.objects.values_list("points_price", flat=True).first(),
    ),
    "welcome points": (
        "channel_create",
        CHANNEL_FORM,
        "welcome_points",
        lambda shop: Channel.objects.exclude(kind="purchase").values_list("welcome_points", flat=True).first(),
    ),
    "referral reward": (
        "referral_settings",
        REFERRAL_FORM,
        "inviter_points",
        lambda shop: ReferralProgram.objects.values_list("inviter_points", flat=True).first(),
    ),
}


@pytest.mark.parametrize("form", FORMS)
def test_a_dashboard_form_stores_an_amount_past_32_bits_exactly(owner_client, shop, form):
    page, data, field, stored = FORMS[form]

    response = owner_client.post(url(page, shop), {**data, field: str(BIG)})

    assert response.status_code == 302, response.context and response.context["form"].errors
    assert stored(shop) == BIG


@pytest.mark.parametrize("form", FORMS)
def test_a_dashboard_form_refuses_an_amount_above_the_maximum_at_its_field(owner_client, shop, form):
    page, data, field, stored = FORMS[form]
    before = stored(shop)

    response = owner_client.post(url(page, shop), {**data, field: ABOVE})

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [TOO_MANY]
    assert TOO_MANY in response.content.decode()
    assert stored(shop) == before


def _adjust(client, shop, member, points: int):
    key = client.get(url("points_ledger", shop, member.pk)).context["form"].initial["idempotency_key"]
    return client.post(
        url("points_adjust", shop, member.pk), {"idempotency_key": key, "points": str(points), "reason": "迁移"}
    )


def test_the_adjustment_form_credits_an_amount_past_32_bits_exactly(owner_client, shop):
    member = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))[0]

    assert _adjust(owner_client, shop, member, BIG).status_code == 302

    assert list(PointsEntry.objects.values_list("points", flat=True)) == [BIG]
    assert Member.objects.get(pk=member.pk).points_balance == BIG
    assert points_reconcile(shop=shop) == []


@pytest.mark.parametrize(
    ("points", "error"),
    [(MAX_POINTS + 1, TOO_MANY), (-MAX_POINTS - 1, "Ensure this value is greater than or equal to -1000000000000.")],
)
def test_the_adjustment_form_refuses_an_amount_above_the_maximum(owner_client, shop, points, error):
    member = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))[0]

    response = _adjust(owner_client, shop, member, points)

    assert response.status_code == 200
    assert response.context["form"].errors == {"points": [error]}
    assert not PointsEntry.objects.exists() and Member.objects.get(pk=member.pk).points_balance == 0
