"""Two workers on one automation's due steps (SPEC 13): the batches are locked (SKIP LOCKED) and the message rows
unique per (campaign, member, occurrence), so each member gets one message and one reward, whatever runs at once."""

import pytest
from django.db import transaction

from automations.entry import journeys_enter
from automations.models import JourneyStatus, Step, StepKind
from automations.steps import automation_advance
from coupons.models import Coupon
from tests.concurrency import in_scope, race
from tests.coupons.helpers import make_template
from tests.factories import MemberFactory

from .helpers import journeys, messages, switch_on

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_advances_message_and_reward_each_member_once(shop):
    # Members first, the automation off: with eager tasks every commit delivers its events at once.
    members = [MemberFactory(shop=shop, consents={"sms": True}) for _ in range(30)]
    welcome = switch_on(shop, "welcome")
    message = Step.objects.get(automation=welcome)
    message.position = 1
    message.save()
    Step.objects.create(
        shop=shop, automation=welcome, position=0, kind=StepKind.REWARD, coupon_template=make_template(shop)
    )
    with transaction.atomic():  # the journeys, as the trigger enters them, not yet advanced
        journeys_enter(shop=shop, automation=welcome, entries=[(m.pk, "joined", "", {}) for m in members])
    assert journeys(shop, welcome).filter(position=0, status=JourneyStatus.ACTIVE).count() == 30

    results = race([in_scope(shop, lambda: automation_advance(shop=shop, automation=welcome, batch=7))] * 3)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert set(journeys(shop, welcome).values_list("status", flat=True)) == {JourneyStatus.DONE}
    assert messages(shop, welcome).count() == 30
    assert sorted(Coupon.objects.filter(shop=shop).values_list("member_id", flat=True)) == sorted(m.pk for m in members)
    assert set(messages(shop, welcome).values_list("coupon_id", flat=True)) == set(
        Coupon.objects.filter(shop=shop).values_list("pk", flat=True)
    )
