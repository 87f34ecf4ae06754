"""The points dashboard: the rules page (program settings, bonus rules), a member's ledger with the staff
adjustment, the order page's explanation of an order's points and the points events of the member's timeline."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from members.models import Member
from members.services import Enrolment, member_enroll
from orders.services import ItemInput, OrderInput, RefundInput, order_record, refund_record
from points.models import BonusRule, EntryKind, PointsEntry, PointsProgram
from points.program import InvalidRules, bonus_rule_save, points_program_update
from points.selectors import points_reconcile
from points.services import points_adjust, points_earn, points_redeem
from shops.models import AuditLogEntry
from shops.roles import ROLE_PERMISSIONS, Perm, Role
from shops.services import SYSTEM
from tests.pages import messages_of, staff_client, text, url
from tiers.models import Tier
from tiers.services import tier_assign, tier_ladder_apply

pytestmark = pytest.mark.django_db
PHONE = "+8613800138000"


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def _books_balance(shop):
    yield
    assert points_reconcile(shop=shop) == []


@pytest.fixture
def member(shop):
    return member_enroll(shop=shop, data=Enrolment(phone=PHONE, name="张三"))[0]


def program(shop) -> dict:
    return PointsProgram.objects.filter(shop=shop).values(*RULES_FORM).get()


# The rules form as the page shows it for a new shop (SPEC 3's defaults).
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


# --- who may see what -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_each_role_sees_the_points_pages_it_may_and_is_refused_the_others(client, shop, member, role):
    rule = bonus_rule_save(shop=shop, actor=SYSTEM, name="双倍", kind="first_purchase", multiplier=Decimal(2))
    staff_client(client, shop, role)
    pages = {
        url("points_rules", shop): Perm.RULES_CHANGE,
        url("points_bonus_create", shop): Perm.RULES_CHANGE,
        url("points_bonus_edit", shop, rule.pk): Perm.RULES_CHANGE,
        url("points_ledger", shop, member.pk): Perm.MEMBERS_VIEW,
    }
    for page, permission in pages.items():
        allowed = permission in ROLE_PERMISSIONS[role]
        assert client.get(page).status_code == (200 if allowed else 403), (role, page)


KEY = "dashboard#" + "a" * 32


@pytest.mark.parametrize("role", [Role.ANALYST, Role.CLERK])
def test_roles_without_the_right_cannot_change_rules_or_adjust_and_nothing_changes(client, shop, member, role):
    rule = bonus_rule_save(shop=shop, actor=SYSTEM, name="双倍", kind="first_purchase", multiplier=Decimal(2))
    staff_client(client, shop, role)
    before = program(shop)
    posts = [
        (url("points_rules", shop), {**RULES_FORM, "points_per_unit": "5"}),
        (url("points_bonus_create", shop), {"name": "新", "kind": "first_purchase", "multiplier": "3"}),
        (url("points_bonus_edit", shop, rule.pk), {"name": "改", "kind": "first_purchase", "multiplier": "3"}),
        (url("points_bonus_active", shop, rule.pk), {"active": "0"}),
        (url("points_bonus_delete", shop, rule.pk), {}),
        (url("points_adjust", shop, member.pk), {"points": "50", "reason": "x", "idempotency_key": KEY}),
    ]
    for page, data in posts:
        assert client.post(page, data).status_code == 403, page
    assert program(shop) == before
    assert list(BonusRule.objects.filter(shop=shop).values_list("name", "multiplier", "active")) == [
        ("双倍", Decimal("2.00"), True)
    ]
    assert Member.objects.get(pk=member.pk).points_balance == 0
    assert not PointsEntry.objects.exists()


def test_the_navigation_leads_to_the_rules_page_for_those_who_may_change_them(client, shop):
    home = url("home", shop)
    assert url("points_rules", shop) in staff_client(client, shop, Role.MARKETER).get(home).content.decode()
    assert url("points_rules", shop) not in staff_client(client, shop, Role.ANALYST).get(home).content.decode()


# --- the rules page ---------------------------------------------------------------------------------------------


def test_the_rules_page_shows_the_program_with_the_rate_and_rounding_in_words(owner_client, shop):
    response = owner_client.get(url("points_rules", shop))

    assert response.status_code == 200
    assert response.context["form"].initial["excluded_categories"] == ""
    assert response.context["rate_sentence"] == (
        "Members earn 1 points for each CNY 1 paid; fractions of a point are dropped. For example, an order of "
        "CNY 100.00 earns 100 points and an order of CNY 99.50 earns 99 points."
    )
    assert "No bonus rules yet." in text(response)


def test_saving_the_rules_changes_the_program_and_audits_each_change_before_and_after(owner_client, shop, owner):
    data = {
        **RULES_FORM,
        "points_per_unit": "2",
        "rounding": "half_up",
        "per_order_cap": "500",
        "excluded_categories": "运费， 礼品卡,运费",
        "pending_days": "7",
        "cash_enabled": "on",
    }
    # when
    response = owner_client.post(url("points_rules", shop), data, follow=True)
    # then
    assert response.redirect_chain == [(url("points_rules", shop), 302)]
    assert messages_of(response) == ["Points rules saved."]
    saved = PointsProgram.objects.get(shop=shop)
    assert (saved.points_per_unit, saved.rounding, saved.per_order_cap, saved.excluded_categories) == (
        Decimal("2.00"),
        "half_up",
        500,
        ["运费", "礼品卡"],
    )
    assert (saved.pending_days, saved.cash_enabled) == (7, True)
    entry = AuditLogEntry.objects.get(shop=shop, action="points.rules")
    assert entry.actor_user == owner
    assert entry.changes == {
        "points_per_unit": ["1.00", "2.00"],
        "rounding": ["down", "half_up"],
        "per_order_cap": ["", "500"],
        "excluded_categories": ["", "运费, 礼品卡"],
        "pending_days": ["0", "7"],
        "cash_enabled": ["False", "True"],
    }
    assert response.context["rate_sentence"].startswith(
        "Members earn 2 points for each CNY 1 paid; fractions of a point are rounded half up. For example, an order "
        "of CNY 100.00 earns 200 points"
    )
    assert "Points rules changed" in text(owner_client.get(url("audit", shop)))


def test_saving_unchanged_rules_records_nothing(owner_client, shop):
    response = owner_client.post(url("points_rules", shop), RULES_FORM)
    assert response.status_code == 302
    assert not AuditLogEntry.objects.filter(action="points.rules").exists()


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"points_per_unit": "-1"}, "points_per_unit", "Ensure this value is greater than or equal to 0."),
        ({"points_per_unit": "abc"}, "points_per_unit", "Enter a number."),
        ({"cash_max_share": "150"}, "cash_max_share", "Ensure this value is less than or equal to 100."),
        (
            {"expiry_mode": "after_days", "expiry_period": "4000"},
            "expiry_period",
            "Ensure this value is less than or equal to 3660.",
        ),
        (
            {"expiry_mode": "after_months", "expiry_period": "200"},
            "expiry_period",
            "Points expiring after a number of months need a period from 1 to 120 months.",
        ),
        ({"rounding": "sideways"}, "rounding", "Select a valid choice. sideways is not one of the available choices."),
    ],
)
def test_bad_rules_input_shows_the_error_at_its_field_and_changes_nothing(owner_client, shop, change, field, error):
    before = program(shop)
    response = owner_client.post(url("points_rules", shop), {**RULES_FORM, **change})
    assert response.status_code == 200
    assert response.context["form"].errors == {field: [error]}
    assert error in response.content.decode()
    assert program(shop) == before
    assert not AuditLogEntry.objects.filter(action="points.rules").exists()


def test_the_rules_service_refuses_bad_values_with_clear_messages_and_saves_nothing(shop):
    before = program(shop)
    cases = [
        ({"excluded_categories": ["运费", " "]}, "Excluded categories must be a list of category names."),
        ({"excluded_categories": "运费"}, "Excluded categories must be a list of category names."),
        ({"per_order_cap": 0}, "A cap must be at least 1 point; leave it empty for no cap."),
        ({"points_per_cash_unit": 0}, "Points per currency unit of cash must be at least 1."),
        (
            {"expiry_mode": "after_days", "expiry_period": 0},
            "Points expiring after a number of days need a period from 1 to 3660 days.",
        ),
        (
            {"points_per_unit": Decimal("1.234")},
            "Points per currency unit: Ensure that there are no more than 2 decimal places.",
        ),
    ]
    for fields, message in cases:
        with pytest.raises(InvalidRules) as raised:
            points_program_update(shop=shop, actor=SYSTEM, **fields)
        assert raised.value.message == message, fields
    with pytest.raises(InvalidRules) as raised:
        points_program_update(shop=shop, actor=SYSTEM, shop_id=2)
    assert raised.value.details == {"fields": ["shop_id"]}
    assert program(shop) == before
    assert not AuditLogEntry.objects.filter(action="points.rules").exists()


# --- bonus rules ------------------------------------------------------------------------------------------------

RULE = {
    "name": "母婴双倍",
    "kind": "category",
    "match": "母婴",
    "starts_on": "",
    "ends_on": "",
    "multiplier": "2",
    "extra_points": "0",
    "active": "on",
}


def test_a_bonus_rule_is_created_listed_and_audited(owner_client, shop):
    response = owner_client.post(url("points_bonus_create", shop), RULE, follow=True)

    assert messages_of(response) == ["Bonus rule saved."]
    rule = BonusRule.objects.get(shop=shop)
    assert (rule.name, rule.kind, rule.match, rule.multiplier, rule.extra_points, rule.active) == (
        "母婴双倍",
        "category",
        "母婴",
        Decimal("2.00"),
        0,
        True,
    )
    page = text(response)
    assert "母婴双倍 Items of a category: 母婴 Always ×2 active" in page
    entry = AuditLogEntry.objects.get(action="points.bonus_rule")
    assert entry.object_repr == "母婴双倍" and entry.changes["match"] == ["", "母婴"]


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"match": ""}, "match", "Name the category."),
        ({"kind": "sku", "match": " "}, "match", "Name the SKU."),
        (
            {"kind": "date_range", "starts_on": "2026-11-11"},
            "ends_on",
            "A date range needs its first and its last day.",
        ),
        (
            {"kind": "date_range", "starts_on": "2026-11-12", "ends_on": "2026-11-11"},
            "ends_on",
            "The last day cannot be before the first day.",
        ),
        ({"multiplier": "25"}, "multiplier", "Ensure this value is less than or equal to 20."),
        ({"multiplier": "1"}, "multiplier", "A bonus rule needs a multiplier above 1 or extra points."),
        ({"name": "  "}, "name", "This field is required."),
    ],
)
def test_a_bad_bonus_rule_shows_the_error_at_its_field_and_stores_nothing(owner_client, shop, change, field, error):
    response = owner_client.post(url("points_bonus_create", shop), {**RULE, **change})
    assert response.status_code == 200
    assert response.context["form"].errors == {field: [error]}
    assert not BonusRule.objects.exists()
    assert not AuditLogEntry.objects.filter(action="points.bonus_rule").exists()


def test_a_bonus_rule_is_edited_switched_off_and_on_and_deleted(owner_client, shop):
    rule = bonus_rule_save(
        shop=shop,
        actor=SYSTEM,
        name="双十一",
        kind="date_range",
        multiplier=Decimal(2),
        starts_on="2026-11-11",
        ends_on="2026-11-11",
    )
    edit = url("points_bonus_edit", shop, rule.pk)
    assert owner_client.get(edit).context["form"].initial["name"] == "双十一"

    data = {
        **RULE,
        "name": "双十一",
        "kind": "date_range",
        "match": "ignored",
        "starts_on": "2026-11-10",
        "ends_on": "2026-11-12",
        "multiplier": "3",
        "extra_points": "10",
    }
    assert messages_of(owner_client.post(edit, data, follow=True)) == ["Bonus rule saved."]
    rule.refresh_from_db()
    assert (rule.kind, rule.match, str(rule.starts_on), str(rule.ends_on), rule.multiplier, rule.extra_points) == (
        "date_range",
        "",
        "2026-11-10",
        "2026-11-12",
        Decimal("3.00"),
        10,
    )

    response = owner_client.post(url("points_bonus_active", shop, rule.pk), {"active": "0"}, follow=True)
    assert messages_of(response) == ["Bonus rule switched off."]
    assert BonusRule.objects.get(pk=rule.pk).active is False
    response = owner_client.post(url("points_bonus_active", shop, rule.pk), {"active": "1"}, follow=True)
    assert messages_of(response) == ["Bonus rule switched on."]
    assert BonusRule.objects.get(pk=rule.pk).active is True

    response = owner_client.post(url("points_bonus_delete", shop, rule.pk), follow=True)
    assert messages_of(response) == ["Bonus rule deleted."]
    assert not BonusRule.objects.exists()
    assert list(AuditLogEntry.objects.filter(action__startswith="points.bonus").values_list("action", flat=True)) == [
        "points.bonus_rule_delete",
        "points.bonus_rule",
        "points.bonus_rule",
        "points.bonus_rule",
        "points.bonus_rule",
    ]


# --- a member's ledger and the adjustment -----------------------------------------------------------------------


def test_the_ledger_shows_balances_expiring_points_and_entries_newest_first(owner_client, shop, member):
    now = timezone.now()
    points_earn(
        shop=shop, member=member, points=100, idempotency_key="a", reason="欢迎礼", expires_at=now + timedelta(days=10)
    )
    points_earn(shop=shop, member=member, points=50, idempotency_key="b", expires_at=now + timedelta(days=400))
    points_redeem(shop=shop, member=member, points=30, idempotency_key="c", reason="兑换")

    response = owner_client.get(url("points_ledger", shop, member.pk))

    assert response.status_code == 200
    assert [(e.kind, e.points, e.lot_remaining) for e in response.context["entries"]] == [
        (EntryKind.REDEEM, -30, None),
        (EntryKind.EARN, 50, 50),
        (EntryKind.EARN, 100, 70),
    ]
    summary = response.context["summary"]
    assert (summary["points_balance"], summary["points_pending"]) == (120, 0)
    assert [row["points"] for row in summary["expiring_soon"]] == [70]  # within the 30 reminder days
    page = text(response)
    assert "70 points expire at" in page and "兑换" in page and "欢迎礼" in page
    assert response.context["can_adjust"] is True


def test_the_ledger_filters_by_kind_and_days_and_pages(owner_client, shop, member):
    for i in range(55):
        points_earn(shop=shop, member=member, points=1, idempotency_key=f"e{i}")
    points_adjust(shop=shop, member=member, points=-5, reason="更正", idempotency_key="adj", actor=SYSTEM)
    ledger = url("points_ledger", shop, member.pk)

    first = owner_client.get(ledger)
    assert len(first.context["entries"]) == 50 and first.context["entries"][0].kind == EntryKind.ADJUST
    assert first.context["next_url"] == f"{ledger}?page=2"
    assert len(owner_client.get(first.context["next_url"]).context["entries"]) == 6

    adjusted = owner_client.get(ledger, {"kind": "adjust"})
    assert [e.points for e in adjusted.context["entries"]] == [-5]
    today = timezone.localdate().isoformat()
    assert len(owner_client.get(ledger, {"created_from": today, "created_to": today}).context["entries"]) == 50
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert "No entries match." in text(owner_client.get(ledger, {"created_from": tomorrow}))
    bad = owner_client.get(ledger, {"created_from": tomorrow, "created_to": today})
    assert "Must not be before the first day." in text(bad)


def adjust_form(client, shop, member) -> dict:
    """The adjustment form as the ledger page renders it (with its generated idempotency key)."""
    form = client.get(url("points_ledger", shop, member.pk)).context["form"]
    return {"idempotency_key": form.initial["idempotency_key"]}


def test_an_adjustment_is_made_once_even_when_the_form_is_submitted_twice(owner_client, shop, member):
    points_earn(shop=shop, member=member, points=100, idempotency_key="seed")
    data = {**adjust_form(owner_client, shop, member), "points": "-40", "reason": "重复积分更正"}
    assert data["idempotency_key"].startswith("dashboard#")
    # when: the same form posted twice (a double click)
    first = owner_client.post(url("points_adjust", shop, member.pk), data, follow=True)
    second = owner_client.post(url("points_adjust", shop, member.pk), data, follow=True)
    # then
    assert messages_of(first) == ["Points adjusted by -40."]
    assert messages_of(second) == ["This adjustment was already saved; it was not made twice."]
    assert Member.objects.get(pk=member.pk).points_balance == 60
    entry = PointsEntry.objects.get(shop=shop, kind=EntryKind.ADJUST)
    assert (entry.points, entry.reason) == (-40, "重复积分更正")
    assert AuditLogEntry.objects.filter(action="points.adjust").count() == 1
    # a fresh form after saving carries a new key
    assert adjust_form(owner_client, shop, member)["idempotency_key"] != data["idempotency_key"]


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"points": "-500", "reason": "扣减"}, {"__all__": ["The member does not have enough points."]}),
        ({"points": "0", "reason": "无"}, {"points": ["Give a number of points other than 0."]}),
        ({"points": "20", "reason": "  "}, {"reason": ["This field is required."]}),
        ({"points": "1.5", "reason": "半"}, {"points": ["Enter a whole number."]}),
        (
            {"points": "20", "reason": "更正\u202e"},
            {
                "reason": [
                    "Remove the invisible character U+202E: control and text-direction characters are not allowed."
                ]
            },
        ),
        (
            {"points": "20", "reason": "x", "idempotency_key": "forged"},
            {
                "idempotency_key": ["Enter a valid value."],
                "__all__": ["This form is out of date. Reload the page and try again."],
            },
        ),
    ],
)
def test_a_bad_adjustment_shows_the_error_on_the_form_and_changes_nothing(owner_client, shop, member, data, errors):
    points_earn(shop=shop, member=member, points=100, idempotency_key="seed")
    response = owner_client.post(
        url("points_adjust", shop, member.pk), {**adjust_form(owner_client, shop, member), **data}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == errors
    assert errors.get("__all__", errors.get("points", errors.get("reason")))[-1] in text(response)
    assert Member.objects.get(pk=member.pk).points_balance == 100
    assert not PointsEntry.objects.filter(kind=EntryKind.ADJUST).exists()
    assert not AuditLogEntry.objects.filter(action="points.adjust").exists()


def test_a_form_reused_with_other_values_is_refused_and_offers_a_new_key(owner_client, shop, member):
    key = adjust_form(owner_client, shop, member)["idempotency_key"]
    owner_client.post(url("points_adjust", shop, member.pk), {"idempotency_key": key, "points": "30", "reason": "a"})
    # when: the page kept open, edited and saved again
    response = owner_client.post(
        url("points_adjust", shop, member.pk), {"idempotency_key": key, "points": "50", "reason": "a"}
    )
    # then
    assert response.status_code == 200
    assert "This form was already used for another adjustment." in text(response)
    assert response.context["form"]["idempotency_key"].value() != key
    assert Member.objects.get(pk=member.pk).points_balance == 30


def test_an_erased_members_ledger_is_readable_but_cannot_be_adjusted(owner_client, shop, member):
    from members.services import member_erase

    points_earn(shop=shop, member=member, points=10, idempotency_key="seed")
    member_erase(shop=shop, member=member, actor=SYSTEM)
    response = owner_client.get(url("points_ledger", shop, member.pk))
    assert response.status_code == 200 and response.context["can_adjust"] is False
    assert url("points_adjust", shop, member.pk) not in response.content.decode()
    data = {**adjust_form(owner_client, shop, member), "points": "5", "reason": "x"}
    assert owner_client.post(url("points_adjust", shop, member.pk), data).status_code == 404
    assert Member.objects.get(pk=member.pk).points_balance == 10


def test_a_clerk_reads_the_ledger_without_the_adjustment_form(client, shop, member):
    staff_client(client, shop, Role.CLERK)
    response = client.get(url("points_ledger", shop, member.pk))
    assert response.status_code == 200 and response.context["can_adjust"] is False
    assert url("points_adjust", shop, member.pk) not in response.content.decode()


def test_the_member_profile_shows_the_points_and_links_the_ledger(owner_client, shop, member):
    points_earn(shop=shop, member=member, points=88, idempotency_key="seed")
    response = owner_client.get(url("member", shop, member.pk))
    assert "Points available 88" in text(response)
    assert url("points_ledger", shop, member.pk) in response.content.decode()


# --- the order page ---------------------------------------------------------------------------------------------


def record(shop, external_id="TB1", amount="268.90", **fields):
    data = OrderInput(
        external_id=external_id,
        amount=Decimal(amount),
        paid_at=timezone.now() - timedelta(hours=1),
        **{"phone": PHONE, **fields},
    )
    return order_record(shop=shop, data=data).order


def points_lines(response) -> list[str]:
    [section] = response.context["sections"]
    return [line.text for line in section["context"]["lines"]]


def test_the_order_page_explains_the_base_points_and_the_rounding(owner_client, shop, member):
    order = record(shop)
    response = owner_client.get(url("order", shop, order.pk))
    assert points_lines(response) == ["Base: CNY 268.90 × 1 = 268.9", "Rounded: 268.9 → 268"]
    page = text(response)
    assert "Total: 268 points" in page and "Credited 268 points on" in page
    assert "The order now holds 268 points." in page


def test_the_order_page_explains_tier_bonus_and_cap_lines(owner_client, shop, member):
    # given: VIP会员 earns ×1.5, a double-points day today, a category bonus with extra points, a cap of 700
    ladder = [
        {"rank": 0, "name": "普通会员"},
        {"rank": 1, "name": "高级会员", "min_spend": "500"},
        {"rank": 2, "name": "VIP会员", "min_spend": "2000", "min_orders": 5, "points_multiplier": "1.5"},
    ]
    tier_ladder_apply(shop=shop, ladder=ladder, actor=SYSTEM)
    tier_assign(shop=shop, member=member, tier=Tier.objects.get(shop=shop, name="VIP会员"), actor=SYSTEM)
    today = timezone.localdate()
    bonus_rule_save(
        shop=shop,
        actor=SYSTEM,
        name="双十一",
        kind="date_range",
        multiplier=Decimal(2),
        starts_on=today - timedelta(days=1),
        ends_on=today + timedelta(days=1),
    )
    bonus_rule_save(
        shop=shop, actor=SYSTEM, name="母婴", kind="category", match="母婴", multiplier=Decimal(3), extra_points=10
    )
    points_program_update(shop=shop, actor=SYSTEM, per_order_cap=700)
    items = (ItemInput("SKU-1", 1, Decimal("168.90"), category="母婴"), ItemInput("SKU-2", 1, Decimal("100.00")))
    # when
    order = record(shop, member_id=member.pk, phone="", items=items)
    response = owner_client.get(url("order", shop, order.pk))
    # then: 268.9 + 134.45 + 268.9 + (168.9 × 2 + 10) = 1020.05, rounded down to 1020, capped at 700
    assert points_lines(response) == [
        "Base: CNY 268.90 × 1 = 268.9",
        "Tier VIP会员 ×1.5: +134.45",
        "Bonus 双十一 ×2 on CNY 268.90: +268.9",
        "Bonus 母婴 ×3 on CNY 168.90 and 10 extra points: +347.8",
        "Rounded: 1020.05 → 1020",
        "Cap 700: −320",
    ]
    assert "Total: 700 points" in text(response)
    assert Member.objects.get(pk=member.pk).points_balance == 700


def test_the_order_page_shows_points_taken_back_by_a_refund(owner_client, shop, member):
    order = record(shop, amount="100.00")
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("40.00")))
    page = text(owner_client.get(url("order", shop, order.pk)))
    assert "Credited 100 points on" in page
    assert re.search(r"Taken back on [\d-]+ [\d:]+: −40 \(Refund R1 of order TB1\)\.", page)
    assert "The order now holds 60 points." in page


def test_the_order_page_shows_pending_points_and_their_cut(owner_client, shop, member):
    points_program_update(shop=shop, actor=SYSTEM, pending_days=7)
    order = record(shop, amount="100.00")
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R1", amount=Decimal("10.00")))
    page = text(owner_client.get(url("order", shop, order.pk)))
    assert "Total: 100 points" in page
    assert "Pending: 90 points become available once the order is completed" in page
    assert "Reduced by refunds while pending: −10 points." in page
    assert "The order now holds 90 points." in page


def test_an_order_without_a_member_has_no_points_section(owner_client, shop):
    order = order_record(
        shop=shop, data=OrderInput(external_id="N1", amount=Decimal("50.00"), paid_at=timezone.now())
    ).order
    response = owner_client.get(url("order", shop, order.pk))
    assert response.status_code == 200 and response.context["sections"] == []


# --- the timeline and the privacy export ------------------------------------------------------------------------


def test_the_timeline_and_the_export_hold_the_points_events(owner_client, shop, member):
    record(shop, amount="100.00")
    refund_record(shop=shop, order=member_order(shop), data=RefundInput(external_id="R1", amount=Decimal("50.00")))
    points_adjust(shop=shop, member=member, points=7, reason="补偿", idempotency_key="k1", actor=SYSTEM)
    points_redeem(shop=shop, member=member, points=20, idempotency_key="k2", reason="兑换礼品")

    response = owner_client.get(url("member", shop, member.pk))

    points_events = [(e.title, e.detail) for e in response.context["timeline"] if e.kind == "points"]
    assert points_events == [
        ("Redeemed 20 points", "兑换礼品"),
        ("Points adjusted by +7", "补偿"),
        ("50 points taken back", "Order TB1 · Refund R1 of order TB1"),
        ("Earned 100 points", "Order TB1"),
    ]
    assert url("points_ledger", shop, member.pk) in response.content.decode()
    data = json.loads(owner_client.post(url("member_export", shop, member.pk)).content)
    assert [(e["kind"], e["points"]) for e in data["points_entries"]] == [
        ("earn", 100),
        ("reverse", -50),
        ("adjust", 7),
        ("redeem", -20),
    ]
    assert data["points_pending"] == []


def member_order(shop):
    from orders.selectors import order_get_by_external_id

    return order_get_by_external_id(shop=shop, external_id="TB1")
