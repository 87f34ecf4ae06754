"""Re-entry rules (SPEC 13): once ever, once per period, every time; and the wait step's hour of the shop's day."""

import datetime
import zoneinfo

import pytest
import time_machine

from automations.models import JourneyStatus, Reentry, Step, StepKind
from tests.factories import MemberFactory, OrderFactory

from .helpers import advance, deliver, journeys, outbox_phones, send_all, switch_on

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def order_at(member, at, n):
    with time_machine.travel(at, tick=False):
        OrderFactory(member=member, external_id=f"R-{n}", paid_at=at - datetime.timedelta(minutes=1))
        deliver(member.shop)
        advance(member.shop)
        send_all(member.shop)


@pytest.mark.parametrize(
    ("reentry", "expected"),
    [(Reentry.EVERY, 3), (Reentry.ONCE, 1), (Reentry.PERIOD, 2)],
)
def test_order_received_follows_the_reentry_rule(shop, reentry, expected):
    received = switch_on(shop, "order_recorded", reentry=reentry, reentry_days=30)
    member = MemberFactory(shop=shop)

    order_at(member, local(2027, 5, 1, 10), 1)
    order_at(member, local(2027, 5, 10, 10), 2)  # within 30 days of the first
    order_at(member, local(2027, 6, 15, 10), 3)  # after them

    assert journeys(shop, received).count() == expected
    assert outbox_phones() == {member.phone: expected}


def test_a_wait_until_an_hour_runs_at_that_hour_of_the_shops_day(shop):
    received = switch_on(shop, "order_recorded")
    Step.objects.filter(automation=received).update(position=1)
    Step.objects.create(shop=shop, automation=received, position=0, kind=StepKind.WAIT, wait_days=0, wait_hour=9)
    member = MemberFactory(shop=shop)

    order_at(member, local(2027, 5, 1, 22), 1)  # 22:00: the next 9:00 is tomorrow's
    journey = journeys(shop, received).get()
    assert journey.due_at == local(2027, 5, 2, 9)
    with time_machine.travel(local(2027, 5, 2, 8, 59), tick=False):
        advance(shop)
    assert outbox_phones() == {}
    with time_machine.travel(local(2027, 5, 2, 9, 0, 30), tick=False):
        advance(shop)
        send_all(shop)
    assert outbox_phones() == {member.phone: 1}
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.DONE
