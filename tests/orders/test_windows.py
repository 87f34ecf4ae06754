from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from members.figures import member_windows_refresh
from members.models import Member
from members.services import Enrolment, member_enroll
from orders.models import COUNTED_STATUSES
from orders.services import OrderInput, RefundInput, order_record, refund_record
from orders.tasks import member_windows_refresh_shop

pytestmark = pytest.mark.django_db


def test_aggregates_follow_orders_refunds_and_the_12_month_window(shop):
    # given: a member with an old order and a recent one
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))
    now = timezone.now()
    old = now - timedelta(days=400)
    order_record(
        shop=shop, data=OrderInput(external_id="A", member_id=member.pk, amount=Decimal("300.00"), paid_at=old)
    )
    recent = order_record(
        shop=shop, data=OrderInput(external_id="B", member_id=member.pk, amount=Decimal("100.50"), paid_at=now)
    ).order
    # when: part of the recent one is refunded
    refund_record(shop=shop, order=recent, data=RefundInput(external_id="R1", amount=Decimal("20.50")))
    # then
    m = Member.objects.get(pk=member.pk)
    assert (m.lifetime_spend, m.order_count, m.spend_12m, m.orders_12m) == (Decimal("380.00"), 2, Decimal("80.00"), 1)
    assert (m.first_order_at, m.last_order_at) == (old, now)
    # and the nightly refresh agrees with the running figures, so it changes nothing
    assert member_windows_refresh(shop=shop, counted_statuses=COUNTED_STATUSES, now=now) == 0
    # a year later the recent order ages out
    assert member_windows_refresh(shop=shop, counted_statuses=COUNTED_STATUSES, now=now + timedelta(days=366)) == 1
    m.refresh_from_db()
    assert (m.spend_12m, m.orders_12m, m.lifetime_spend) == (Decimal("0.00"), 0, Decimal("380.00"))


def test_the_nightly_task_ages_the_windows_of_its_shop_only(shop, other_shop):
    # given: in each shop a member whose only order leaves the 12-month window tomorrow
    now = timezone.now()
    paid_at = now - timedelta(days=364)
    members = []
    for s in (shop, other_shop):
        member, _ = member_enroll(shop=s, data=Enrolment(phone="13800138000"))
        order_record(
            shop=s, data=OrderInput(external_id="A", member_id=member.pk, amount=Decimal("50"), paid_at=paid_at)
        )
        members.append(member)
    # when: the shop's task runs two days later
    with time_machine.travel(now + timedelta(days=2), tick=False):
        assert member_windows_refresh_shop(shop.pk) == 1
    # then: the order left the window of its buyer, not the lifetime figures; the other shop waits for its own task
    ours, theirs = (Member.objects.get(pk=m.pk) for m in members)
    assert (ours.spend_12m, ours.orders_12m, ours.lifetime_spend, ours.order_count) == (
        Decimal("0"),
        0,
        Decimal("50"),
        1,
    )
    assert (theirs.spend_12m, theirs.orders_12m) == (Decimal("50"), 1)
