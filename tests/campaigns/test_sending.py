"""Exactly one message per member (SPEC 12): whatever happens between the snapshot and the provider, each member of
the audience is messaged once, counted in the provider's outbox, and nobody is lost."""

import datetime

import pytest
from django.test import override_settings
from django.utils import timezone

from campaigns.models import CampaignStatus, MessageStatus
from campaigns.sending import claim, claims_settle, results_record, send_batch
from campaigns.services import campaign_cancel, campaign_pause, campaign_resume
from members.services import member_update
from shops.services import SYSTEM
from shops.sms import LocmemBackend

from . import providers
from .helpers import members, outbox_phones, rows, send_all, started

pytestmark = pytest.mark.django_db

# Real concurrency on PostgreSQL needs committed rows.
postgres_only = pytest.mark.postgres


def assert_each_once(shop, campaign, expected_members):
    phones = outbox_phones()
    assert sorted(phones) == sorted(m.phone for m in expected_members)
    assert set(phones.values()) == {1}, "someone got two messages"


def test_everyone_once_in_provider_batches(shop):
    audience = members(shop, 450)
    campaign = started(shop, holdout_percent=0)
    send_all(shop, campaign)
    assert_each_once(shop, campaign, audience)
    assert max(len(b) for b in LocmemBackend.batches) == 200
    assert rows(shop, campaign).filter(status=MessageStatus.SENT).count() == 450
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE


def test_the_text_carries_signature_opt_out_and_values(shop):
    (member,) = members(shop, 1, name="小王")
    campaign = started(shop, holdout_percent=0, text="{name}，您有 {points_balance} 积分")
    send_all(shop, campaign)
    [message] = LocmemBackend.outbox
    assert message.text == f"【{shop.name}】小王，您有 0 积分回T退订"
    assert message.message_id == f"{shop.pk}-{rows(shop, campaign).get().pk}"
    assert rows(shop, campaign).get().text == message.text


def test_consent_withdrawn_after_the_snapshot_sends_nothing(shop):
    audience = members(shop, 3)
    campaign = started(shop, holdout_percent=0)
    member_update(shop=shop, member=audience[0], consents={"sms": False}, source="portal")
    send_all(shop, campaign)
    assert_each_once(shop, campaign, audience[1:])
    assert rows(shop, campaign).get(member=audience[0]).reason == "unsubscribed"


def test_pause_stops_and_resume_carries_on(shop):
    audience = members(shop, 500)
    campaign = started(shop, holdout_percent=0)
    send_batch(shop=shop, campaign=campaign)
    campaign_pause(shop=shop, actor=SYSTEM, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    sent_before = len(LocmemBackend.outbox)
    assert sent_before == 200
    campaign_resume(shop=shop, actor=SYSTEM, campaign=campaign)
    send_all(shop, campaign)
    assert_each_once(shop, campaign, audience)


def test_cancel_stops_for_good_and_sends_nobody_twice(shop):
    members(shop, 500)
    campaign = started(shop, holdout_percent=0)
    send_batch(shop=shop, campaign=campaign)
    campaign_cancel(shop=shop, actor=SYSTEM, campaign=campaign)
    campaign.refresh_from_db()
    assert send_batch(shop=shop, campaign=campaign) == 200  # a sender that did not see the cancel yet...
    send_all(shop, campaign)
    # ...finishes its batch; the next one is never claimed (the task checks the status before each batch).
    assert set(outbox_phones().values()) == {1}


def test_a_refused_number_fails_once_and_is_never_sent_again(shop):
    audience = members(shop, 5)
    LocmemBackend.refused.add(audience[2].phone)
    campaign = started(shop, holdout_percent=0)
    send_all(shop, campaign)
    failed = rows(shop, campaign).get(member=audience[2])
    assert failed.status == MessageStatus.FAILED and failed.error == "refused"
    offered = [i for batch in LocmemBackend.batches for i in batch if i == f"{shop.pk}-{failed.pk}"]
    assert len(offered) == 1
    assert_each_once(shop, campaign, [m for m in audience if m != audience[2]])


@override_settings(SMS_BACKEND="tests.campaigns.providers.FailingAfter")
def test_a_provider_failing_after_n_messages_loses_nobody_and_doubles_nobody(shop):
    audience = members(shop, 450)
    providers.FailingAfter.arm(after=130)  # takes 130 of a batch, then fails the whole call
    campaign = started(shop, holdout_percent=0)
    with pytest.raises(providers.DeliveryError):
        send_batch(shop=shop, campaign=campaign)
    # Settled at once from the provider: the 130 it holds are sent, the rest wait for a retry under the same key.
    assert rows(shop, campaign).filter(status=MessageStatus.SENT).count() == 130
    rows(shop, campaign).filter(status=MessageStatus.QUEUED).update(due_at=timezone.now())
    send_all(shop, campaign)
    assert_each_once(shop, campaign, audience)


def test_a_sender_killed_after_the_provider_took_the_batch_is_settled_not_resent(shop, settings):
    audience = members(shop, 300)
    campaign = started(shop, holdout_percent=0)
    taken = claim(shop=shop, campaign=campaign, size=200)
    LocmemBackend().send_many(taken[:150])  # the provider took 150, then the sender died before recording
    assert claims_settle(shop=shop, campaign=campaign) == 0  # within the lease: left alone
    later = timezone.now() + datetime.timedelta(seconds=settings.CAMPAIGN_CLAIM_LEASE_SECONDS + 1)
    assert claims_settle(shop=shop, campaign=campaign, now=later) == 200
    assert rows(shop, campaign).filter(status=MessageStatus.SENT).count() == 150
    send_all(shop, campaign)
    assert_each_once(shop, campaign, audience)


def test_a_receipt_settles_a_claim_whose_sender_died(shop, settings):
    from campaigns.receipts import receipt_record

    members(shop, 2)
    campaign = started(shop, holdout_percent=0)
    taken = claim(shop=shop, campaign=campaign, size=200)
    assert receipt_record(message_id=taken[0].message_id, delivered=True)
    later = timezone.now() + datetime.timedelta(seconds=settings.CAMPAIGN_CLAIM_LEASE_SECONDS + 1)
    claims_settle(shop=shop, campaign=campaign, now=later)
    statuses = dict(rows(shop, campaign).values_list("pk", "status"))
    assert sorted(statuses.values()) == ["delivered", "queued"]


def test_results_only_move_rows_still_being_sent(shop):
    members(shop, 1)
    campaign = started(shop, holdout_percent=0)
    [message] = claim(shop=shop, campaign=campaign, size=10)
    results_record(shop=shop, results=LocmemBackend().send_many([message]))
    results_record(shop=shop, results=LocmemBackend().send_many([message]))  # a replayed answer changes nothing
    assert rows(shop, campaign).get().status == MessageStatus.SENT


def test_cancel_and_send_time_suppression_give_the_budget_back(shop):
    from campaigns.models import ContactCount

    audience = members(shop, 3)
    first = started(shop, holdout_percent=0)
    member_update(shop=shop, member=audience[0], consents={"sms": False}, source="portal")
    claim(shop=shop, campaign=first, size=1)  # audience[0]'s row (lowest id): suppressed now
    assert rows(shop, first).get(member=audience[0]).reason == "unsubscribed"
    campaign_cancel(shop=shop, actor=SYSTEM, campaign=first)
    assert sum(ContactCount.objects.filter(shop=shop).values_list("count", flat=True)) == 0
    second = started(shop, holdout_percent=0, name="再来一次")
    assert rows(shop, second).filter(status=MessageStatus.QUEUED).count() == 2  # not capped by the cancelled one
