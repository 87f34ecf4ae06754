"""Every fact of SPEC 9 writes its event with it, in its transaction, for its shop only; batches write theirs in
one statement; a replay writes nothing."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coupons.redemption import coupon_redeem
from coupons.rules import Cart
from events.models import Event
from members.services import Enrolment, member_enroll, member_erase, member_set_frozen, member_update
from orders.services import OrderInput, RefundInput, order_change_status, order_record, orders_record, refund_record
from points.services import points_adjust
from shops.services import SYSTEM
from tests.factories import CouponFactory, CouponTemplateFactory, MemberFactory
from tests.recruitment.helpers import invite_code, join, program
from tiers.models import Tier
from tiers.services import tier_assign

pytestmark = pytest.mark.django_db


def events(shop, *types) -> list[tuple]:
    rows = Event.objects.filter(shop=shop).order_by("id")
    if types:
        rows = rows.filter(type__in=types)
    return [(e.type, e.member_id, e.payload) for e in rows]


def test_enrolment_writes_joined_then_each_consent(shop, other_shop):
    member, _ = member_enroll(
        shop=shop, data=Enrolment(phone="13800138000", channel="qr", consents={"sms": True}), source="portal"
    )
    assert events(shop) == [
        ("member.joined", member.pk, {"source": "portal", "channel": "qr"}),
        ("consent.changed", member.pk, {"channel": "sms", "granted": True, "source": "portal"}),
    ]
    member_enroll(shop=shop, data=Enrolment(phone="13800138000"))  # already a member: nothing happened
    assert len(events(shop)) == 2
    assert events(other_shop) == []


def test_profile_changes_freezing_and_erasure_write_their_events(shop):
    member = MemberFactory(shop=shop)
    Event.objects.filter(shop=shop).delete()
    member_update(shop=shop, member=member, name="小李", consents={"sms": True})
    member_update(shop=shop, member=member, name="小李")  # no change: no event
    member_set_frozen(shop=shop, member=member, actor=SYSTEM, frozen=True)
    member_erase(shop=shop, member=member, actor=SYSTEM)
    assert events(shop) == [
        ("consent.changed", member.pk, {"channel": "sms", "granted": True, "source": "api"}),
        ("member.updated", member.pk, {"fields": ["name"]}),
        ("member.updated", member.pk, {"fields": ["status"], "status": "frozen"}),
        ("consent.changed", member.pk, {"channel": "sms", "granted": False, "source": "erasure"}),
        ("member.erased", member.pk, {}),
    ]
    assert "小李" not in str(events(shop))  # payloads name fields, never a member's personal data


def test_a_batch_of_orders_writes_all_its_events_in_one_statement_and_a_replay_none(shop):
    members = [MemberFactory(shop=shop) for _ in range(3)]
    now = timezone.now()
    batch = [
        OrderInput(external_id=f"B{i}", amount=Decimal("120.00"), paid_at=now, member_id=m.pk)
        for i, m in enumerate(members)
    ]
    before = Event.objects.filter(shop=shop).count()
    with CaptureQueriesContext(connection) as queries:
        orders_record(shop=shop, orders=batch)
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT INTO events_event")]
    assert len(inserts) == 1
    recorded = events(shop, "order.recorded")
    assert [(m, p["external_id"], p["amount"]) for _t, m, p in recorded] == [
        (m.pk, f"B{i}", "120.00") for i, m in enumerate(members)
    ]
    posted = events(shop, "points.posted")
    assert {m for _t, m, _p in posted} == {m.pk for m in members}
    assert all(p["kind"] == "earn" and p["points"] > 0 for _t, _m, p in posted)
    written = Event.objects.filter(shop=shop).count()
    assert written - before == 6

    orders_record(shop=shop, orders=batch)  # a client retrying the batch
    assert Event.objects.filter(shop=shop).count() == written


def test_status_changes_and_refunds_write_their_events(shop):
    member = MemberFactory(shop=shop)
    now = timezone.now()
    order = order_record(
        shop=shop, data=OrderInput(external_id="R1", amount=Decimal("100.00"), paid_at=now, member_id=member.pk)
    ).order
    order_change_status(shop=shop, order=order, status="completed")
    refund = refund_record(shop=shop, order=order, data=RefundInput(external_id="F1", amount=Decimal("40.00")))
    refund_record(shop=shop, order=order, data=RefundInput(external_id="F1", amount=Decimal("40.00")))  # a replay
    assert events(shop, "order.status_changed", "order.refunded") == [
        (
            "order.status_changed",
            member.pk,
            {"order_id": order.pk, "external_id": "R1", "from": "paid", "to": "completed"},
        ),
        (
            "order.refunded",
            member.pk,
            {
                "order_id": order.pk,
                "external_id": "R1",
                "refund_id": refund.refund.pk,
                "refund_external_id": "F1",
                "amount": "40.00",
                "fully": False,
            },
        ),
    ]
    reversed_points = [p for _t, _m, p in events(shop, "points.posted") if p["kind"] == "reverse"]
    assert reversed_points and reversed_points[0]["points"] < 0


def test_points_adjustments_and_manual_tiers_write_their_events(shop):
    member = MemberFactory(shop=shop)
    Event.objects.filter(shop=shop).delete()
    points_adjust(shop=shop, member=member, points=25, idempotency_key="a1", reason="goodwill", actor=SYSTEM)
    points_adjust(shop=shop, member=member, points=25, idempotency_key="a1", reason="goodwill", actor=SYSTEM)
    top = Tier.objects.filter(shop=shop).order_by("-rank").first()
    tier_assign(shop=shop, member=member, tier=top, actor=SYSTEM)
    [(_t, _m, posted)] = events(shop, "points.posted")
    assert (posted["kind"], posted["points"], posted["key"]) == ("adjust", 25, "a1")
    [(_t, member_id, changed)] = events(shop, "tier.changed")
    assert (member_id, changed["from_tier_id"], changed["to_tier_id"], changed["reason"]) == (
        member.pk,
        None,
        top.pk,
        "manual",
    )


def test_coupons_issued_and_redeemed_write_their_events(shop):
    member = MemberFactory(shop=shop)
    template = CouponTemplateFactory(shop=shop)
    coupon = CouponFactory(member=member, template=template)
    coupon_redeem(shop=shop, code=coupon.code, member=member, order_external_id="O1", cart=Cart(Decimal("150.00")))
    assert events(shop, "coupon.issued", "coupon.redeemed") == [
        ("coupon.issued", member.pk, {"coupon_id": coupon.pk, "template_id": template.pk, "source": "grant"}),
        (
            "coupon.redeemed",
            member.pk,
            {"coupon_id": coupon.pk, "template_id": template.pk, "order_external_id": "O1", "discount": "20.00"},
        ),
    ]


def test_a_rewarded_referral_writes_its_event(shop):
    program(shop)
    inviter = join(shop, 0)[0]
    invitee, _ = join(shop, 1, referrer_code=invite_code(shop, inviter))
    [(_t, member_id, payload)] = events(shop, "referral.rewarded")
    assert (member_id, payload["invitee_id"], payload["inviter_points"], payload["invitee_points"]) == (
        inviter.pk,
        invitee.pk,
        100,
        50,
    )
