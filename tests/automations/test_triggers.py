"""The event triggers (SPEC 13): joined, tier upgraded, order care and the survey enter each member once per
occurrence, also when the events are read twice; the re-entry rules; holdout members get nothing."""

import pytest
from rest_framework.test import APIClient

from automations.models import JourneyStatus
from campaigns.models import MessageStatus, Reason
from members.services import member_update
from shops.services import SYSTEM
from shops.sms import LocmemBackend
from tests.factories import MemberFactory, OrderFactory

from .helpers import deliver, journeys, messages, outbox_phones, run, switch_on

pytestmark = pytest.mark.django_db


def test_a_new_member_gets_the_welcome_once_even_when_the_events_are_read_twice(shop):
    welcome = switch_on(shop, "welcome")
    member = MemberFactory(shop=shop, name="小李", consents={"sms": True})

    run(shop)
    deliver(shop, again=True)
    run(shop)

    assert outbox_phones() == {member.phone: 1}
    [sent] = LocmemBackend.outbox
    assert sent.text.startswith(f"【{shop.name}】小李，欢迎加入{shop.name}")
    assert list(journeys(shop, welcome).values_list("member_id", "status")) == [(member.pk, JourneyStatus.DONE)]


def test_a_switched_off_automation_enters_nobody(shop):
    MemberFactory(shop=shop, consents={"sms": True})
    run(shop)
    assert LocmemBackend.outbox == []


def test_order_care_is_sent_without_marketing_consent_but_never_after_an_opt_out(shop):
    shipped = switch_on(shop, "order_shipped")
    member = MemberFactory(shop=shop)  # no marketing consent at all
    opted_out = MemberFactory(shop=shop)
    member_update(shop=shop, member=opted_out, consents={"service": False}, actor=SYSTEM)
    orders = [OrderFactory(member=m, external_id=f"E-{m.pk}") for m in (member, opted_out)]
    client = APIClient()
    from tests.factories import make_api_key

    _key, secret = make_api_key(shop)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    for order in orders:
        response = client.patch(f"/api/v1/orders/{order.external_id}/", {"status": "shipped"}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "shipped"

    run(shop)

    assert outbox_phones() == {member.phone: 1}
    assert "回T退订" not in LocmemBackend.outbox[0].text  # a service message carries no marketing opt-out
    assert f"E-{member.pk}" in LocmemBackend.outbox[0].text
    refused = messages(shop, shipped).get(member=opted_out)
    assert (refused.status, refused.reason) == (MessageStatus.SUPPRESSED, Reason.UNSUBSCRIBED)


def test_an_upgrade_is_congratulated_once_naming_the_gift_and_a_downgrade_is_not(shop):
    from coupons.models import Occasion
    from coupons.tier_gift_services import tier_gift_add
    from tests.coupons.helpers import make_template
    from tiers.models import Tier
    from tiers.services import tier_assign

    gold = Tier.objects.get(shop=shop, rank=1)
    tier_gift_add(
        shop=shop, actor=SYSTEM, tier=gold, occasion=Occasion.UPGRADE, template=make_template(shop, name="金卡礼"),
        quantity=1,
    )  # fmt: skip
    tier_up = switch_on(shop, "tier_up")
    member = MemberFactory(shop=shop, consents={"sms": True})
    tier_assign(shop=shop, member=member, tier=gold, actor=SYSTEM)
    run(shop)
    deliver(shop, again=True)
    run(shop)
    tier_assign(shop=shop, member=member, tier=Tier.objects.get(shop=shop, rank=0), actor=SYSTEM)
    run(shop)

    assert journeys(shop, tier_up).count() == 1
    [sms] = LocmemBackend.outbox
    assert gold.name in sms.text and "金卡礼" in sms.text


def test_the_journey_shows_in_the_members_timeline(shop, owner_client):
    switch_on(shop, "welcome")
    member = MemberFactory(shop=shop, consents={"sms": True})
    run(shop)
    page = owner_client.get(f"/dashboard/{shop.slug}/members/{member.pk}/")
    assert "自动化：入会欢迎" in page.content.decode()


def test_churn_risk_turning_high_enters_once_and_leaves_if_the_risk_fell(shop):
    import datetime

    import time_machine
    from django.db import transaction
    from django.utils import timezone

    from analytics.models import MemberClv
    from automations.models import Step, StepKind
    from events.outbox import emit
    from events.types import EventType

    at_risk = switch_on(shop, "churn_risk")
    Step.objects.filter(automation=at_risk).update(position=1)
    Step.objects.create(shop=shop, automation=at_risk, position=0, kind=StepKind.WAIT, wait_days=1)
    stays, recovers = (MemberFactory(shop=shop, consents={"sms": True}) for _ in range(2))
    for member in (stays, recovers):
        MemberClv.objects.create(
            shop=shop, member=member, frequency=1, recency_days=10, age_days=400, p_alive=0.1,
            expected_orders_90d=0.01, predicted_value="0.00", churn_risk="high", previous_churn_risk="low",
            computed_at=timezone.now(),
        )  # fmt: skip
        with transaction.atomic():
            emit(shop_id=shop.pk, type=EventType.MEMBER_CHURN_RISK_CHANGED, member_id=member.pk,
                 payload={"from": "low", "to": "high"})  # fmt: skip
    run(shop)
    deliver(shop, again=True)
    run(shop)
    MemberClv.objects.filter(member=recovers).update(churn_risk="medium")
    with time_machine.travel(timezone.now() + datetime.timedelta(days=1, minutes=1), tick=False):
        run(shop)

    assert dict(journeys(shop, at_risk).values_list("member_id", "status")) == {
        stays.pk: JourneyStatus.DONE,
        recovers.pk: JourneyStatus.EXITED,
    }
    assert outbox_phones() == {stays.phone: 1}


def test_order_care_and_the_survey_enter_once_when_the_events_are_read_twice(shop):
    from orders.services import order_change_status

    completed = switch_on(shop, "order_completed")
    survey = switch_on(shop, "survey")
    member = MemberFactory(shop=shop)
    order = OrderFactory(member=member, external_id="C-1")
    order_change_status(shop=shop, order=order, status="completed")
    run(shop)
    deliver(shop, again=True)
    run(shop)

    assert list(journeys(shop, completed).values_list("occurrence", flat=True)) == [f"{order.pk}#completed"]
    assert list(journeys(shop, survey).values_list("occurrence", flat=True)) == [str(order.pk)]
    assert outbox_phones() == {member.phone: 1}  # the survey waits for the next afternoon
