"""Replenishment (SPEC 13): each member's buying cycle per category, their median gap shrunk towards the
category's, on a seeded history whose expected dates are known; a member who already re-bought gets nothing."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
import time_machine

from automations.daily import daily_pass
from automations.models import Replenishment
from automations.replenishment import replenishment_refresh
from orders.services import ItemInput
from tests.factories import MemberFactory, OrderFactory

from .helpers import advance, journeys, outbox_phones, send_all, switch_on

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def bought(member, day: datetime.date, category: str = "咖啡豆", n=[0]):  # noqa: B006 - a counter for order numbers
    n[0] += 1
    at = local(day.year, day.month, day.day, 23, 30)  # late in the shop's day: its local date, not UTC's
    with time_machine.travel(at + datetime.timedelta(minutes=5), tick=False):
        OrderFactory(
            member=member,
            external_id=f"B-{n[0]}",
            paid_at=at,
            items=(ItemInput(sku="B1", category=category, quantity=1, unit_price=Decimal("100.00")),),
        )


D = datetime.date


def test_expected_days_are_the_members_median_gap_shrunk_towards_the_categorys(shop):
    regular, occasional, once = (MemberFactory(shop=shop, consents={"sms": True}) for _ in range(3))
    for day in (D(2027, 1, 1), D(2027, 1, 11), D(2027, 1, 21)):  # gaps 10, 10
        bought(regular, day)
    for day in (D(2027, 1, 1), D(2027, 1, 31)):  # gap 30
        bought(occasional, day)
    bought(once, D(2027, 1, 5))  # no gap: no prediction
    bought(regular, D(2027, 1, 21), "茶叶")  # another category, one day: no prediction

    replenishment_refresh(shop=shop, today=D(2027, 2, 1))

    # The category's gaps 10, 10, 30: median 10. regular: (2*10 + 2*10) / 4 = 10; occasional: (30 + 2*10) / 3 = 16.7.
    assert sorted(Replenishment.objects.values_list("member_id", "category", "last_on", "gap_days", "expected_on")) == [
        (regular.pk, "咖啡豆", D(2027, 1, 21), 10, D(2027, 1, 31)),
        (occasional.pk, "咖啡豆", D(2027, 1, 31), 17, D(2027, 2, 17)),
    ]


def test_a_reminder_before_the_expected_day_and_none_for_who_already_rebought(shop):
    replenish = switch_on(shop, "replenishment", days=3)
    due, rebought = (MemberFactory(shop=shop, consents={"sms": True}) for _ in range(2))
    for member in (due, rebought):
        for day in (D(2027, 1, 1), D(2027, 1, 11), D(2027, 1, 21)):
            bought(member, day)
    bought(rebought, D(2027, 1, 26))  # before the reminder: their cycle starts again

    with time_machine.travel(local(2027, 1, 28, 0, 30), tick=False):  # due expects 31 January: 3 days before
        daily_pass(shop=shop)
        advance(shop)
        send_all(shop)

    assert list(journeys(shop, replenish).values_list("member_id", "subject")) == [(due.pk, "咖啡豆")]
    assert outbox_phones() == {due.phone: 1}
