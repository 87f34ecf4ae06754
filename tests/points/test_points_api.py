"""The points rows of the API contract: GET members/{id}/points/, points/redeem/ and points/adjust/."""

from datetime import timedelta

import pytest
from django.utils import timezone

from members.models import Member
from members.services import Enrolment, member_enroll
from points.models import PointsEntry
from points.selectors import points_program_of, points_reconcile
from points.services import points_earn
from shops.models import AuditLogEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(shop):
    member = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))[0]
    points_earn(shop=shop, member=member, points=1000, idempotency_key="seed", reason="开卡礼")
    return member


@pytest.fixture(autouse=True)
def _books_balance(shop):
    yield
    assert points_reconcile(shop=shop) == []


def _url(member, action=""):
    return f"/api/v1/members/{member.pk}/points/{action + '/' if action else ''}"


def _balance(member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def test_the_points_summary_shows_balances_expiring_points_and_recent_entries(api_client, shop, member):
    points_earn(
        shop=shop, member=member, points=40, idempotency_key="soon", expires_at=timezone.now() + timedelta(days=10)
    )

    body = api_client.get(_url(member)).json()

    assert (body["points_balance"], body["points_pending"]) == (1040, 0)
    assert [e["points"] for e in body["expiring_soon"]] == [40]
    assert [(e["kind"], e["points"]) for e in body["entries"]] == [("earn", 40), ("earn", 1000)]


def test_redeeming_spends_points_and_a_retry_answers_the_first_result(api_client, member):
    first = api_client.post(_url(member, "redeem"), {"points": 300, "idempotency_key": "pos-1"}, format="json")
    again = api_client.post(_url(member, "redeem"), {"points": 300, "idempotency_key": "pos-1"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200), first.content
    assert first.json()["entry"] == again.json()["entry"]
    assert first.json()["entry"]["points"] == -300 and first.json()["points_balance"] == 700
    assert _balance(member) == 700


def test_redeeming_more_than_the_balance_is_409_and_changes_nothing(api_client, member):
    response = api_client.post(_url(member, "redeem"), {"points": 1001, "idempotency_key": "pos-2"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_points"
    assert _balance(member) == 1000 and PointsEntry.objects.count() == 1


def test_the_same_key_with_other_points_is_409(api_client, member):
    api_client.post(_url(member, "redeem"), {"points": 10, "idempotency_key": "pos-3"}, format="json")
    response = api_client.post(_url(member, "redeem"), {"points": 20, "idempotency_key": "pos-3"}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "idempotency_conflict"
    assert _balance(member) == 990


@pytest.mark.parametrize(
    "body",
    [
        {"points": 0, "idempotency_key": "k"},
        {"points": -5, "idempotency_key": "k"},
        {"points": "many", "idempotency_key": "k"},
        {"points": 5},
        {"points": 5, "idempotency_key": "order#TB1"},  # the system's own key space
        {"points": 5, "idempotency_key": "k", "extra": 1},
        {"points": 5, "idempotency_key": "k", "order_amount": "-1"},
    ],
)
def test_bad_redemptions_are_400_and_change_nothing(api_client, member, body):
    response = api_client.post(_url(member, "redeem"), body, format="json")

    assert response.status_code == 400, response.content
    assert _balance(member) == 1000 and PointsEntry.objects.count() == 1


def test_points_as_cash_are_priced_and_held_to_the_shops_settings(api_client, shop, member):
    refused = api_client.post(
        _url(member, "redeem"), {"points": 500, "idempotency_key": "c0", "order_amount": "100"}, format="json"
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "cash_disabled")
    program = points_program_of(shop=shop)
    program.cash_enabled, program.cash_max_share = True, 10
    program.save()

    over = api_client.post(
        _url(member, "redeem"), {"points": 1000, "idempotency_key": "c1", "order_amount": "50"}, format="json"
    )
    paid = api_client.post(
        _url(member, "redeem"), {"points": 500, "idempotency_key": "c2", "order_amount": "50"}, format="json"
    )

    assert (over.status_code, over.json()["code"]) == (400, "above_cap")
    assert paid.status_code == 201 and paid.json()["cash_value"] == "5.00"
    assert _balance(member) == 500


def test_a_cash_redemption_replays_its_first_price_and_refuses_another_order_amount(api_client, shop, member):
    program = points_program_of(shop=shop)
    program.cash_enabled, program.cash_max_share = True, 10
    program.save()
    body = {"points": 500, "idempotency_key": "c3", "order_amount": "50"}
    first = api_client.post(_url(member, "redeem"), body, format="json")
    program.cash_enabled = False
    program.save()

    replay = api_client.post(_url(member, "redeem"), body, format="json")
    other = api_client.post(_url(member, "redeem"), {**body, "order_amount": "80"}, format="json")

    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == first.json() and replay.json()["cash_value"] == "5.00"
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_conflict")
    assert _balance(member) == 500
    assert PointsEntry.objects.filter(shop=shop, idempotency_key="c3").count() == 1


def test_an_adjustment_needs_a_reason_and_is_audited(api_client, shop, member):
    missing = api_client.post(_url(member, "adjust"), {"points": 50, "idempotency_key": "a1"}, format="json")
    zero = api_client.post(_url(member, "adjust"), {"points": 0, "reason": "x", "idempotency_key": "a1"}, format="json")
    done = api_client.post(
        _url(member, "adjust"), {"points": -200, "reason": "重复积分更正", "idempotency_key": "a1"}, format="json"
    )

    assert (missing.status_code, zero.status_code, done.status_code) == (400, 400, 201)
    assert _balance(member) == 800
    entry = AuditLogEntry.objects.get(shop=shop, action="points.adjust")
    assert entry.changes["reason"] == ["", "重复积分更正"] and entry.actor_api_key is not None


@pytest.mark.parametrize("action", ["adjust", "redeem"])
@pytest.mark.parametrize("reason", ["更正\x07", "\u202e更正", "更正\n第二行"])
def test_a_reason_with_a_control_or_text_direction_character_is_a_400_and_changes_nothing(
    api_client, shop, member, action, reason
):
    body = {"points": 100, "reason": reason, "idempotency_key": "r1"}

    response = api_client.post(_url(member, action), body, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()["details"]) == ["reason"]
    assert _balance(member) == 1000
    assert not PointsEntry.objects.filter(shop=shop, idempotency_key="r1").exists()


def test_an_erased_members_points_are_404(api_client, shop, member):
    from members.services import member_erase
    from shops.services import SYSTEM

    member_erase(shop=shop, member=member, actor=SYSTEM)

    assert api_client.get(_url(member)).status_code == 404
    response = api_client.post(_url(member, "redeem"), {"points": 1, "idempotency_key": "k"}, format="json")
    assert response.status_code == 404


def test_the_tiers_list_shows_the_default_ladder_with_benefits(api_client):
    body = api_client.get("/api/v1/tiers/").json()

    assert [(t["rank"], t["name"], t["qualification"]["min_spend"]) for t in body] == [
        (0, "普通会员", None),
        (1, "高级会员", "500.00"),
        (2, "VIP会员", "2000.00"),
        (3, "至尊VIP", "5000.00"),
    ]
    assert body[2]["qualification"] | {"min_spend": None} == {
        "min_spend": None,
        "min_orders": 5,
        "min_growth": None,
        "combine": "all",
        "window": "12m",
        "retention_months": 12,
    }
    assert body[0]["benefits"] == {
        "discount_rate": "1.000",
        "points_multiplier": "1.00",
        "free_shipping": False,
        "priority_shipping": False,
        "dedicated_service": False,
    }
