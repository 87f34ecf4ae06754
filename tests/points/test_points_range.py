"""Points and growth value are 64-bit integers end to end (issue 16): amounts past 2**31 and 2**32 are credited,
taken, refunded and reported exactly through the API, the order paths and the ledger. One operation is at most
MAX_POINTS (a clear 400 above, nothing stored; an order's award is capped there); a balance is at most MAX_BALANCE
(a clear 409 above, nothing stored). No input gives a 500. The books reconcile after every test."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from members.errors import BalanceLimit
from members.models import MAX_BALANCE, MAX_POINTS, Member
from members.services import Enrolment, member_enroll
from orders.models import Order
from orders.services import OrderInput, orders_record
from points.errors import InvalidPoints
from points.models import EntryKind, PointsEntry, PointsLot
from points.program import bonus_rule_save, points_program_update
from points.selectors import points_reconcile
from points.services import points_adjust, points_earn
from shops.services import SYSTEM
from tiers.errors import InvalidGrowth
from tiers.growth import growth_post
from tiers.models import GrowthEntry

pytestmark = pytest.mark.django_db
BIG = 4_294_967_396  # 2**32 + 100: what a 32-bit parameter turned into 100
LARGE = [2**31 - 1, 2**31, 2**32 - 1, 2**32, BIG, 2**39 + 7, MAX_POINTS]


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def member(shop):
    return member_enroll(shop=shop, data=Enrolment(phone="13800138000"))[0]


@pytest.fixture(autouse=True)
def _books_balance(shop):
    yield
    assert points_reconcile(shop=shop) == []


def _url(member, action=""):
    return f"/api/v1/members/{member.pk}/points/{action + '/' if action else ''}"


def _state(member) -> tuple[int, list[int], list[int]]:
    """The cached balance, the entries' points and the lots' remainders, oldest first."""
    entries = PointsEntry.objects.filter(member=member).order_by("pk").values_list("points", flat=True)
    lots = PointsLot.objects.filter(member=member).order_by("pk").values_list("remaining", flat=True)
    return Member.objects.get(pk=member.pk).points_balance, list(entries), list(lots)


def _paid_at() -> str:
    return timezone.localtime(timezone.now() - timedelta(hours=1)).isoformat()


# --- exact amounts past 32 bits ----------------------------------------------------------------------------------


def test_an_adjustment_and_a_redemption_of_4294967396_points_are_exact_through_the_api(api_client, shop, member):
    # when
    adjusted = api_client.post(
        _url(member, "adjust"), {"points": BIG, "reason": "迁移", "idempotency_key": "big-1"}, format="json"
    )
    # then
    assert adjusted.status_code == 201, adjusted.content
    assert (adjusted.json()["entry"]["points"], adjusted.json()["points_balance"]) == (BIG, BIG)
    assert _state(member) == (BIG, [BIG], [BIG])
    assert api_client.get(_url(member)).json()["points_balance"] == BIG
    # when
    redeemed = api_client.post(_url(member, "redeem"), {"points": BIG, "idempotency_key": "big-2"}, format="json")
    # then
    assert redeemed.status_code == 201, redeemed.content
    assert (redeemed.json()["entry"]["points"], redeemed.json()["points_balance"]) == (-BIG, 0)
    assert _state(member) == (0, [BIG, -BIG], [0])


@pytest.mark.parametrize("points", LARGE)
def test_amounts_around_32_bits_and_up_to_the_maximum_are_credited_and_taken_exactly(api_client, shop, member, points):
    credit = {"points": points, "reason": "导入", "idempotency_key": "in"}
    debit = {"points": -(points - 1), "reason": "更正", "idempotency_key": "out"}

    assert api_client.post(_url(member, "adjust"), credit, format="json").status_code == 201
    assert api_client.post(_url(member, "adjust"), debit, format="json").status_code == 201

    assert _state(member) == (1, [points, -(points - 1)], [1])
    body = api_client.get(f"/api/v1/members/{member.pk}/").json()
    assert body["points_balance"] == 1


@pytest.mark.parametrize(
    ("action", "points"),
    [
        ("adjust", MAX_POINTS + 1),
        ("adjust", -MAX_POINTS - 1),
        ("redeem", MAX_POINTS + 1),
        ("adjust", 2**63),
        ("redeem", 2**64 + 100),
        ("adjust", -(2**63) - 1),
        ("redeem", 10**30),
    ],
)
def test_an_amount_above_the_maximum_is_a_400_and_stores_nothing(api_client, shop, member, action, points):
    points_earn(shop=shop, member=member, points=1000, idempotency_key="seed")
    before = _state(member)

    response = api_client.post(
        _url(member, action), {"points": points, "reason": "x", "idempotency_key": "k"}, format="json"
    )

    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["code"], list(body["details"])) == ("invalid", ["points"])
    assert str(MAX_POINTS) in body["details"]["points"][0]
    assert _state(member) == before


def test_the_services_refuse_an_amount_above_the_maximum_with_a_clear_message(shop, member):
    with pytest.raises(InvalidPoints) as refused:
        points_adjust(shop=shop, member=member, points=-MAX_POINTS - 1, reason="x", idempotency_key="k", actor=SYSTEM)
    assert refused.value.message == "At most 1,000,000,000,000 points in one operation."
    with pytest.raises(InvalidGrowth) as refused:
        growth_post(shop=shop, member=member, value=MAX_POINTS + 1, idempotency_key="g")
    assert refused.value.message == "At most 1,000,000,000,000 growth value in one operation."
    assert _state(member) == (0, [], [])
    assert Member.objects.get(pk=member.pk).growth_value == 0 and not GrowthEntry.objects.exists()


# --- orders ------------------------------------------------------------------------------------------------------


def test_an_order_earning_more_than_2_to_the_32_points_is_credited_and_refunded_exactly(api_client, shop, member):
    # when
    response = api_client.post(
        "/api/v1/orders/",
        {"external_id": "BIG1", "amount": f"{BIG}.00", "paid_at": _paid_at(), "member_id": member.pk},
        format="json",
    )
    # then
    assert response.status_code == 201, response.content
    assert response.json()["points_earned"] == BIG
    assert Order.objects.get(external_id="BIG1").points_earned == BIG
    assert _state(member) == (BIG, [BIG], [BIG])
    assert Member.objects.get(pk=member.pk).growth_value == BIG
    # when: half refunded, so half the points (2,147,483,698: past 2**31 - 1) are taken back
    refund = api_client.post(
        "/api/v1/orders/BIG1/refunds/", {"external_id": "R1", "amount": f"{BIG // 2}.00"}, format="json"
    )
    # then
    assert refund.status_code == 201, refund.content
    assert _state(member) == (BIG // 2, [BIG, -(BIG // 2)], [BIG // 2])
    assert Member.objects.get(pk=member.pk).growth_value == BIG // 2
    assert sorted(GrowthEntry.objects.values_list("value", flat=True)) == [-(BIG // 2), BIG]


def test_a_batch_of_orders_each_past_32_bits_earns_their_exact_sum(api_client, shop, member):
    orders = [
        {"external_id": f"B{i}", "amount": f"{BIG + i}.00", "paid_at": _paid_at(), "member_id": member.pk}
        for i in range(3)
    ]

    response = api_client.post("/api/v1/orders/bulk/", {"orders": orders}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["created"] == 3
    total = 3 * BIG + 3
    assert _state(member) == (total, [BIG, BIG + 1, BIG + 2], [BIG, BIG + 1, BIG + 2])
    assert Member.objects.get(pk=member.pk).growth_value == total


def test_an_order_whose_rules_would_earn_more_than_the_maximum_earns_the_maximum_and_says_why(api_client, shop, member):
    # given: rules under which the largest order would earn about 9.5 x 10**18 points, past a bigint
    points_program_update(shop=shop, actor=SYSTEM, points_per_unit=Decimal("999999.99"))
    for n in range(50):
        bonus_rule_save(
            shop=shop,
            actor=SYSTEM,
            name=f"二十倍{n}",
            kind="date_range",
            multiplier=Decimal(20),
            starts_on=timezone.localdate() - timedelta(days=1),
            ends_on=timezone.localdate(),
        )
    # when
    response = api_client.post(
        "/api/v1/orders/",
        {"external_id": "HUGE", "amount": "9999999999.99", "paid_at": _paid_at(), "member_id": member.pk},
        format="json",
    )
    # then
    assert response.status_code == 201, response.content
    assert response.json()["points_earned"] == MAX_POINTS
    entry = PointsEntry.objects.get(order_external_id="HUGE")
    assert entry.points == MAX_POINTS
    cap = entry.details["lines"][-1]
    assert (cap["rule"], cap["basis"]) == ("cap", str(MAX_POINTS))
    assert _state(member) == (MAX_POINTS, [MAX_POINTS], [MAX_POINTS])
    assert Member.objects.get(pk=member.pk).growth_value == 9_999_999_999  # growth has no bonuses: one per yuan


# --- the balance limit -------------------------------------------------------------------------------------------


def _near_the_limit(shop, member, *, below: int) -> None:
    """The member holding MAX_BALANCE - `below` points and growth value, written directly: through the services
    it would take a thousand operations of MAX_POINTS. One entry, its lot and the cached figures, so the books
    balance."""
    held = MAX_BALANCE - below
    entry = PointsEntry.objects.create(
        shop=shop,
        member=member,
        kind=EntryKind.ADJUST,
        points=held,
        reason="迁移",
        idempotency_key="setup",
        body_hash="",
        created_at=timezone.now(),
    )
    PointsLot.objects.create(shop=shop, entry=entry, member=member, remaining=held, earned_at=timezone.now())
    GrowthEntry.objects.create(
        shop=shop, member=member, kind="adjust", value=held, idempotency_key="setup", created_at=timezone.now()
    )
    Member.objects.filter(pk=member.pk).update(points_balance=held, growth_value=held)


def test_a_credit_past_the_balance_limit_is_a_409_that_changes_nothing(api_client, shop, member):
    _near_the_limit(shop, member, below=5)
    before = _state(member)

    over = api_client.post(
        _url(member, "adjust"), {"points": 6, "reason": "x", "idempotency_key": "over"}, format="json"
    )
    order = api_client.post(
        "/api/v1/orders/",
        {"external_id": "OVER", "amount": "100.00", "paid_at": _paid_at(), "member_id": member.pk},
        format="json",
    )

    for response in (over, order):
        assert response.status_code == 409, response.content
        body = response.json()
        assert (body["code"], body["details"]["limit"]) == ("balance_limit", MAX_BALANCE)
        assert "1,000,000,000,000,000" in body["message"]
    assert _state(member) == before
    assert not Order.objects.exists()
    # exactly up to the limit is allowed
    exact = api_client.post(
        _url(member, "adjust"), {"points": 5, "reason": "x", "idempotency_key": "exact"}, format="json"
    )
    assert exact.status_code == 201 and exact.json()["points_balance"] == MAX_BALANCE


def test_growth_value_past_the_limit_is_refused_too_and_the_database_keeps_the_limit(shop, member):
    _near_the_limit(shop, member, below=5)

    with pytest.raises(BalanceLimit):
        growth_post(shop=shop, member=member, value=6, idempotency_key="g")
    with pytest.raises(BalanceLimit):
        orders_record(
            shop=shop,
            orders=[
                OrderInput(
                    external_id="G1",
                    amount=Decimal("6.00"),
                    member_id=member.pk,
                    paid_at=timezone.now() - timedelta(hours=1),
                )
            ],
        )

    assert Member.objects.get(pk=member.pk).growth_value == MAX_BALANCE - 5
    assert GrowthEntry.objects.count() == 1 and not Order.objects.exists()
    with pytest.raises(IntegrityError), transaction.atomic():  # the CheckConstraint behind the services
        Member.objects.filter(pk=member.pk).update(points_pending=MAX_BALANCE + 1)
