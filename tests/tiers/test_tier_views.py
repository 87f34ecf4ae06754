"""The tiers dashboard: the ladder page (distribution, editor, preview, apply now or from a date, scheduled changes,
evaluations) and a member's tier with the manual assignment."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine

from members.models import Member
from points.services import points_earn
from shops.models import AuditLogEntry
from shops.roles import ROLE_PERMISSIONS, Perm, Role
from shops.services import SYSTEM
from tests.pages import messages_of, staff_client, text, url
from tiers.models import Tier, TierChange, TierEvaluation, TierSchedule
from tiers.rules import DEFAULTS
from tiers.services import tier_ladder_schedule, tiers_evaluate

from .helpers import buy, enrol, rank_of, tier, utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 5, 20, 2)  # 20 May, 10:00 in Shanghai
# The default ladder as the editor posts it (rank 0's disabled fields are not posted).
DEFAULT_ROWS = [
    {"name": "普通会员"},
    {"name": "高级会员", "min_spend": "500"},
    {"name": "VIP会员", "min_spend": "2000", "min_orders": "5"},
    {"name": "至尊VIP", "min_spend": "5000"},
]


def default_ladder() -> list[dict]:
    return [{"rank": rank, **row} for rank, row in enumerate(DEFAULT_ROWS)]


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def ladder_post(rows, action="preview", effective_on="", previewed="") -> dict:
    data = {
        "form-TOTAL_FORMS": str(len(rows)),
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "1",
        "form-MAX_NUM_FORMS": "50",
        "action": action,
        "effective_on": effective_on,
        "previewed": previewed,
    }
    for index, row in enumerate(rows):
        for name, value in {**DEFAULTS, **row}.items():
            if value is True:
                data[f"form-{index}-{name}"] = "on"
            elif value is not None and value is not False:
                data[f"form-{index}-{name}"] = str(value)
    return data


def ladder_state(shop) -> list:
    return list(Tier.objects.filter(shop=shop).order_by("rank").values())


@pytest.fixture
def members(shop) -> dict:
    """small: 400 (rank 0), silver: 600 (rank 1), vip: 5 x 500 (rank 2), top: one order of 6000 (rank 3)."""
    made = {}
    for name, orders in {"small": [400], "silver": [600], "vip": [500] * 5, "top": [6000]}.items():
        made[name] = enrol(shop, name)
        for amount in orders:
            buy(shop, made[name], amount, NOW - timedelta(days=10))
    return made


# --- who may do what ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_every_role_reads_the_tiers_and_only_rule_changers_get_the_editor(client, shop, role):
    member = enrol(shop, "张三")
    staff_client(client, shop, role)
    page = client.get(url("tiers", shop))
    assert page.status_code == 200
    editable = Perm.RULES_CHANGE in ROLE_PERMISSIONS[role]
    assert ('data-testid="ladder-form"' in page.content.decode()) is editable
    assert page.context["can_edit"] is editable
    assert all(field.field.disabled for form in page.context["formset"] for field in form) is not editable
    assert f'href="{url("tiers", shop)}"' in page.content.decode()  # the navigation's entry
    assert client.get(url("tier_member", shop, member.pk)).status_code == 200
    profile = client.get(url("member", shop, member.pk)).content.decode()
    assert 'data-testid="member-tier"' in profile
    assert ('data-testid="tier-assign"' in profile) is (Perm.POINTS_ADJUST in ROLE_PERMISSIONS[role])


@pytest.mark.parametrize("role", [Role.ANALYST, Role.CLERK])
def test_roles_without_the_right_cannot_change_tiers_or_assign_and_nothing_changes(client, shop, role):
    member = enrol(shop, "张三")
    schedule = tier_ladder_schedule(shop=shop, ladder=default_ladder(), effective_on=date(2026, 6, 1), actor=SYSTEM)
    staff_client(client, shop, role)
    before, audits = ladder_state(shop), AuditLogEntry.objects.count()
    changed = [{**DEFAULT_ROWS[0]}, {**DEFAULT_ROWS[1], "min_spend": "1"}]
    posts = [
        (url("tiers", shop), ladder_post(changed, action="preview")),
        (url("tiers", shop), ladder_post(changed, action="apply")),
        (url("tiers", shop), ladder_post(changed, action="add")),
        (url("tier_schedule_cancel", shop, schedule.pk), {}),
        (url("tier_assign", shop, member.pk), {"tier": tier(shop, 3).pk, "note": "x"}),
    ]
    for page, data in posts:
        assert client.post(page, data).status_code == 403, page
    assert ladder_state(shop) == before
    assert AuditLogEntry.objects.count() == audits
    assert TierSchedule.objects.filter(pk=schedule.pk, applied_at=None).exists()
    assert rank_of(member) == 0


# --- the ladder page ----------------------------------------------------------------------------------------------


def test_the_page_shows_members_per_tier_with_their_share_and_the_last_evaluations(owner_client, shop, members):
    evaluation = tiers_evaluate(shop=shop)
    page = owner_client.get(url("tiers", shop))
    assert [(t.name, n, share) for t, n, share in page.context["distribution"]] == [
        ("普通会员", 1, 25.0),
        ("高级会员", 1, 25.0),
        ("VIP会员", 1, 25.0),
        ("至尊VIP", 1, 25.0),
    ]
    assert page.context["members_total"] == 4
    assert "普通会员 1 25.0%" in text(page)
    assert list(page.context["evaluations"]) == [evaluation]
    assert "2026-05-20 10:00:00" in text(page)  # started, in the shop's time zone
    assert "All members 4 0 0" in text(page)


def test_the_editor_shows_the_ladder_one_column_per_tier(owner_client, shop):
    page = owner_client.get(url("tiers", shop))
    formset = page.context["formset"]
    assert [form["name"].value() for form in formset] == ["普通会员", "高级会员", "VIP会员", "至尊VIP"]
    assert formset.forms[2]["min_orders"].value() == 5
    # rank 0 is held on joining: no thresholds, window or retention to edit
    rows = {str(label): cells for label, _help, cells in formset.rows()}
    assert [used for _field, used in rows["Minimum spend"]] == [False, True, True, True]
    assert [used for _field, used in rows["Price rate"]] == [True, True, True, True]


def test_the_preview_shows_the_moves_and_the_points_liability_and_saves_nothing(owner_client, shop, members):
    points_earn(shop=shop, member=members["top"], points=50, idempotency_key="gift")
    before, audits = ladder_state(shop), AuditLogEntry.objects.count()
    # silver from 300: small moves up; the top tier goes: top (one order, not VIP) moves down to silver
    rows = [DEFAULT_ROWS[0], {**DEFAULT_ROWS[1], "min_spend": "300", "points_multiplier": "2"}, DEFAULT_ROWS[2]]
    page = owner_client.post(url("tiers", shop), ladder_post(rows))
    assert page.status_code == 200
    preview = page.context["preview"]
    assert (preview["members"], preview["up"], preview["down"]) == (4, 1, 1)
    assert [(t["before"], t["after"]) for t in preview["tiers"]] == [(1, 0), (1, 3), (1, 1)]
    assert preview["removed"] == [{"rank": 3, "name": "至尊VIP", "members": 1, "points_before": 6000}]
    # points a year (1 point a yuan, multipliers 1, silver's now 2): now 400 + 600 + 2500 + 6000; after
    # (400 + 600 + 6000) x 2 + 2500
    assert preview["points_per_year"] == {"before": 9500, "after": 16500}
    assert preview["balance"] == {"total": 400 + 600 + 2500 + 6050, "up": 400, "down": 6050}
    body = text(page)
    assert "Move up 1 Move down 1" in body
    assert "至尊VIP (removed) 1 0 6000 0" in body
    assert "Points a year now 9500 Points a year after 16500 +7000" in body
    assert "CNY 9,500.00" in body and "× 1 points per currency unit" in body
    assert "Bonus rules, excluded categories, rounding per order and caps are left out." in body
    assert 'data-testid="apply-button"' in page.content.decode()
    # nothing saved
    assert ladder_state(shop) == before
    assert AuditLogEntry.objects.count() == audits
    assert not TierSchedule.objects.exists()


def _previewed(client, shop, rows, effective_on="") -> str:
    page = client.post(url("tiers", shop), ladder_post(rows, effective_on=effective_on))
    assert page.context["preview"]
    return page.context["apply_form"].initial["previewed"]


NEW_ROWS = [DEFAULT_ROWS[0], {**DEFAULT_ROWS[1], "min_spend": "300"}, DEFAULT_ROWS[2]]


def test_apply_now_applies_what_the_preview_showed(owner_client, shop, members):
    digest = _previewed(owner_client, shop, NEW_ROWS)
    response = owner_client.post(
        url("tiers", shop), ladder_post(NEW_ROWS, action="apply", previewed=digest), follow=True
    )
    assert response.redirect_chain == [(url("tiers", shop), 302)]
    assert messages_of(response) == [
        "Tiers applied. Members of removed tiers moved: 1; the evaluation upgraded 1 and lowered 0."
    ]
    assert [(t.name, t.min_spend) for t in Tier.objects.filter(shop=shop, rank__lt=1000).order_by("rank")] == [
        ("普通会员", None),
        ("高级会员", Decimal("300.00")),
        ("VIP会员", Decimal("2000.00")),
    ]
    assert (rank_of(members["small"]), rank_of(members["top"])) == (1, 1)
    audit = AuditLogEntry.objects.get(shop=shop, action="tiers.change")
    assert audit.actor_label == "owner@shop-a.example"
    assert audit.changes["1.min_spend"] == ["500.00", "300"]


def test_apply_without_a_preview_or_after_editing_previews_first_and_saves_nothing(owner_client, shop, members):
    before = ladder_state(shop)
    digest = _previewed(owner_client, shop, NEW_ROWS)
    edited = [DEFAULT_ROWS[0], {**DEFAULT_ROWS[1], "min_spend": "250"}, DEFAULT_ROWS[2]]
    for previewed in ("", digest):
        page = owner_client.post(url("tiers", shop), ladder_post(edited, action="apply", previewed=previewed))
        assert page.status_code == 200
        assert page.context["preview"]["up"] == 1
        assert "The tiers were edited after the last preview: check this preview, then apply." in text(page)
    assert ladder_state(shop) == before
    assert not AuditLogEntry.objects.filter(action__startswith="tiers.").exists()


def test_a_later_date_schedules_the_change_shown_with_its_date_and_cancellable(owner_client, shop, members):
    digest = _previewed(owner_client, shop, NEW_ROWS, effective_on="2026-06-01")
    before = ladder_state(shop)
    response = owner_client.post(
        url("tiers", shop),
        ladder_post(NEW_ROWS, action="apply", effective_on="2026-06-01", previewed=digest),
        follow=True,
    )
    assert messages_of(response) == ["The new tiers will apply on 2026-06-01."]
    assert ladder_state(shop) == before
    schedule = TierSchedule.objects.get(shop=shop)
    assert (schedule.effective_on, schedule.applied_at, schedule.created_by) == (
        date(2026, 6, 1),
        None,
        "owner@shop-a.example",
    )
    assert [t["min_spend"] for t in schedule.ladder] == [None, "300", "2000"]
    assert "2026-06-01 普通会员 → 高级会员 → VIP会员 owner@shop-a.example" in text(response)
    # cancelled: gone, audited
    response = owner_client.post(url("tier_schedule_cancel", shop, schedule.pk), follow=True)
    assert messages_of(response) == ["The scheduled tier change was cancelled."]
    assert not TierSchedule.objects.exists()
    assert AuditLogEntry.objects.get(action="tiers.schedule_cancel").changes == {
        "schedule": [str(schedule.pk), ""],
        "effective_on": ["2026-06-01", ""],
    }
    assert ladder_state(shop) == before


def test_an_applied_schedule_cannot_be_cancelled(owner_client, shop):
    schedule = tier_ladder_schedule(shop=shop, ladder=default_ladder(), effective_on=date(2026, 5, 20), actor=SYSTEM)
    assert schedule.applied_at is not None
    response = owner_client.post(url("tier_schedule_cancel", shop, schedule.pk), follow=True)
    assert messages_of(response) == ["This tier change has already been applied; it can no longer be cancelled."]
    assert TierSchedule.objects.filter(pk=schedule.pk).exists()
    assert not AuditLogEntry.objects.filter(action="tiers.schedule_cancel").exists()


def test_today_applies_now_and_a_past_date_is_refused(owner_client, shop, members):
    before = ladder_state(shop)
    page = owner_client.post(url("tiers", shop), ladder_post(NEW_ROWS, effective_on="2026-05-19"))
    assert page.context["apply_form"].errors == {"effective_on": ["Choose today or a later day."]}
    assert "preview" not in page.context
    assert ladder_state(shop) == before
    digest = _previewed(owner_client, shop, NEW_ROWS, effective_on="2026-05-20")
    owner_client.post(
        url("tiers", shop), ladder_post(NEW_ROWS, action="apply", effective_on="2026-05-20", previewed=digest)
    )
    assert tier(shop, 1).min_spend == Decimal(300)
    assert not TierSchedule.objects.exists()


@pytest.mark.parametrize(
    ("rows", "index", "field", "message"),
    [
        (
            [DEFAULT_ROWS[0], {"name": "高级会员", "discount_rate": "0"}],
            1,
            "discount_rate",
            "discount_rate must be above 0 and at most 1 (0.95 means 5% off).",
        ),
        (
            [DEFAULT_ROWS[0], {"name": "银卡"}, {"name": "银卡", "min_spend": "9"}],
            2,
            "name",
            "Two tiers are named 银卡.",
        ),
        (
            [DEFAULT_ROWS[0], {"name": "高级会员", "min_spend": "-5"}],
            1,
            "min_spend",
            "min_spend must be between 0 and 9999999999.99.",
        ),
        (
            [DEFAULT_ROWS[0], {"name": "高级会员", "points_multiplier": "25"}],
            1,
            "points_multiplier",
            "points_multiplier must be between 0 and 20.",
        ),
        ([DEFAULT_ROWS[0], {"name": "高级会员", "min_orders": "abc"}], 1, "min_orders", "Enter a whole number."),
        (
            [DEFAULT_ROWS[0], {"name": "高级会员", "min_growth": "1000000000001"}],
            1,
            "min_growth",
            "Ensure this value is less than or equal to 1000000000000.",
        ),
        ([DEFAULT_ROWS[0], {"name": ""}], 1, "name", "This field is required."),
    ],
)
@pytest.mark.parametrize("action", ["preview", "apply"])
def test_a_bad_ladder_is_shown_at_its_tier_and_field_and_nothing_changes(
    owner_client, shop, rows, index, field, message, action
):
    before, audits = ladder_state(shop), AuditLogEntry.objects.count()
    page = owner_client.post(url("tiers", shop), ladder_post(rows, action=action, previewed="x" * 64))
    assert page.status_code == 200
    formset = page.context["formset"]
    assert formset.forms[index].errors == {field: [message]}
    assert [form.errors for i, form in enumerate(formset.forms) if i != index] == [{}] * (len(rows) - 1)
    assert "preview" not in page.context
    assert f'<small class="error">{message}</small>' in page.content.decode()
    assert ladder_state(shop) == before
    assert AuditLogEntry.objects.count() == audits
    assert not TierSchedule.objects.exists()


def test_tiers_are_added_at_the_top_and_removed_from_it_without_saving(owner_client, shop):
    before = ladder_state(shop)
    typed = [DEFAULT_ROWS[0], {**DEFAULT_ROWS[1], "min_spend": "abc", "free_shipping": True}]
    page = owner_client.post(url("tiers", shop), ladder_post(typed, action="add"))
    formset = page.context["formset"]
    assert not formset.is_bound
    assert [(f["name"].value(), f["min_spend"].value(), f["free_shipping"].value()) for f in formset] == [
        ("普通会员", None, False),
        ("高级会员", "abc", True),
        ("", None, False),
    ]
    assert formset.forms[2]["retention_months"].value() == 12
    page = owner_client.post(url("tiers", shop), ladder_post(typed, action="remove"))
    assert [f["name"].value() for f in page.context["formset"]] == ["普通会员"]
    page = owner_client.post(url("tiers", shop), ladder_post(typed[:1], action="remove"))
    assert [f["name"].value() for f in page.context["formset"]] == ["普通会员"]
    assert messages_of(page) == ["The tier members hold on joining cannot be removed."]
    assert ladder_state(shop) == before


def test_rank_0_keeps_its_own_settings_whatever_is_posted(owner_client, shop, members):
    posted = [
        {**DEFAULT_ROWS[0], "min_spend": "100", "retention_months": "3", "discount_rate": "0.98"},
        *DEFAULT_ROWS[1:],
    ]
    digest = _previewed(owner_client, shop, posted)
    owner_client.post(url("tiers", shop), ladder_post(posted, action="apply", previewed=digest))
    base = tier(shop, 0)
    assert (base.min_spend, base.retention_months, base.discount_rate) == (None, 12, Decimal("0.980"))


# --- a member's tier ----------------------------------------------------------------------------------------------


def test_the_profile_shows_the_tier_and_the_progress_to_the_next(owner_client, shop, members):
    page = owner_client.get(url("member", shop, members["silver"].pk))
    body = text(page)
    assert "Tier 高级会员 kept at least until 2027-05-20 10:00" in body
    assert "Spend ¥1,400.00 more and place 4 more orders to reach VIP会员" in body
    assert 'data-testid="tier-assign"' in page.content.decode()


def test_staff_assign_a_tier_by_hand_until_a_day_with_a_note(owner_client, shop, members):
    member = members["small"]
    response = owner_client.post(
        url("tier_assign", shop, member.pk),
        {"tier": tier(shop, 2).pk, "until": "2026-06-30", "note": "投诉补偿"},
        follow=True,
    )
    assert response.redirect_chain == [(url("member", shop, member.pk), 302)]
    assert messages_of(response) == ["small is now on VIP会员."]
    member.refresh_from_db()
    assert (member.tier_id, member.tier_until) == (tier(shop, 2).pk, utc(2026, 6, 30, 16))  # 1 July 00:00 Shanghai
    change = TierChange.objects.get(shop=shop, member=member, reason="manual")
    assert (change.to_tier.name, change.note, change.actor) == ("VIP会员", "投诉补偿", "owner@shop-a.example")
    audit = AuditLogEntry.objects.get(action="tier.assign")
    assert audit.object_id == str(member.pk)
    assert audit.changes["tier_until"] == ["", "2026-07-01T00:00:00+08:00"]  # on the shop's clock
    history = owner_client.get(url("tier_member", shop, member.pk))
    assert "普通会员 VIP会员 Assigned by staff 投诉补偿 owner@shop-a.example" in text(history)


def test_a_bad_assignment_is_shown_on_the_members_tier_page_and_nothing_changes(owner_client, shop, other_shop):
    member = enrol(shop, "张三")
    foreign_tier = Tier.objects.get(shop=other_shop, rank=2)
    page = owner_client.post(url("tier_assign", shop, member.pk), {"tier": tier(shop, 1).pk, "note": "x" * 201})
    assert page.status_code == 200
    assert page.context["form"].errors == {"note": ["Ensure this value has at most 200 characters (it has 201)."]}
    assert 'data-testid="tier-assign"' in page.content.decode()
    page = owner_client.post(url("tier_assign", shop, member.pk), {"tier": foreign_tier.pk})
    assert list(page.context["form"].errors) == ["tier"]
    page = owner_client.post(url("tier_assign", shop, member.pk), {"tier": tier(shop, 1).pk, "until": "2026-05-19"})
    assert page.context["form"].errors == {"until": ["A manual assignment must end in the future."]}
    member.refresh_from_db()
    assert (member.tier_id, member.tier_until) == (None, None)
    assert not TierChange.objects.exists()
    assert not AuditLogEntry.objects.filter(action="tier.assign").exists()


def test_an_erased_members_tier_page_is_readable_and_offers_no_assignment(owner_client, shop):
    from members.services import member_erase

    member = enrol(shop, "张三")
    member_erase(shop=shop, member=member, actor=SYSTEM)
    page = owner_client.get(url("tier_member", shop, member.pk))
    assert page.status_code == 200
    assert page.context["assign_form"] is None
    assert owner_client.post(url("tier_assign", shop, member.pk), {"tier": tier(shop, 1).pk}).status_code == 404
    assert Member.objects.get(pk=member.pk).tier_id is None


def test_evaluation_rows_are_the_shops_own(owner_client, shop, other_shop):
    tiers_evaluate(shop=other_shop)
    page = owner_client.get(url("tiers", shop))
    assert list(page.context["evaluations"]) == []
    assert TierEvaluation.objects.filter(shop=other_shop).count() == 1
