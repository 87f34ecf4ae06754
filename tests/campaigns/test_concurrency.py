"""Exactly once under real concurrency (SPEC 12), on PostgreSQL with committed rows and one connection per thread:
two senders on one campaign never send a row twice nor skip one, and two campaigns snapshotting at the same moment
share one contact budget."""

from collections import Counter

import pytest

from campaigns.models import ContactCount, Message, MessageStatus, MessagingSettings
from campaigns.sending import BATCH, send_batch
from campaigns.services import campaign_finish_if_done
from campaigns.snapshot import snapshot_run
from shops.sms import LocmemBackend
from tests.concurrency import in_scope, race

from .helpers import members, outbox_phones, started

N = 400
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_provider(settings):
    settings.SMS_RATE_LIMIT = 1e9  # the shared bucket is not what is raced here


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch):
    monkeypatch.setitem(BATCH, "sms", 20)  # many claims per sender: many chances to collide


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    """Outside a test transaction the send's on_commit would run the (eager) snapshot and senders at once: the
    tests run them themselves, racing."""
    monkeypatch.setattr("campaigns.services._dispatch", lambda *args: None)


def _sender(shop, campaign, batches: list):
    def work():
        n = 0
        while claimed := send_batch(shop=shop, campaign=campaign):
            batches.append(claimed)
            n += claimed
        return n

    return in_scope(shop, work)


@pytest.mark.parametrize("senders", [2, 4])
def test_senders_racing_on_one_campaign_send_each_member_once(shop, other_shop, senders):
    audience = members(shop, N)
    members(other_shop, 5)
    campaign = started(shop, holdout_percent=0)
    assert Message.objects.filter(shop=shop, campaign=campaign, status=MessageStatus.QUEUED).count() == N

    batches: list = []
    results = race([_sender(shop, campaign, batches) for _ in range(senders)])

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == N
    assert sum(1 for r in results if r) >= 2, f"the race did not happen: {results}"  # both took batches
    phones = outbox_phones()
    assert set(phones) == {m.phone for m in audience}  # none lost
    assert set(phones.values()) == {1}  # none twice
    assert len(LocmemBackend.outbox) == N
    statuses = Counter(Message.objects.filter(shop=shop, campaign=campaign).values_list("status", flat=True))
    assert statuses == {MessageStatus.SENT: N}
    ids = [m.message_id for m in LocmemBackend.outbox]
    assert len(set(ids)) == N  # each row's id went to the provider once
    assert campaign_finish_if_done(shop=shop, campaign_id=campaign.pk)


def test_two_campaigns_snapshotting_at_once_share_the_contact_budget(shop):
    audience = members(shop, 300)
    first = started(shop, snapshot=False, holdout_percent=0, name="第一")
    second = started(shop, snapshot=False, holdout_percent=0, name="第二")
    settings = MessagingSettings.objects.get(shop=shop)
    assert settings.daily_cap == 1

    results = race(
        [
            in_scope(shop, lambda: snapshot_run(shop=shop, campaign_id=first.pk, chunk=50)),
            in_scope(shop, lambda: snapshot_run(shop=shop, campaign_id=second.pk, chunk=50)),
        ]
    )

    assert results == [None, None]
    rows = Message.objects.filter(shop=shop, campaign__in=[first, second])
    assert rows.count() == 2 * 300
    queued = Counter(rows.filter(status=MessageStatus.QUEUED).values_list("member_id", flat=True))
    capped = Counter(rows.filter(status=MessageStatus.SUPPRESSED, reason="capped").values_list("member_id", flat=True))
    every = {m.pk for m in audience}
    assert set(queued) == every and set(queued.values()) == {1}  # each member queued in exactly one of them
    assert set(capped) == every and set(capped.values()) == {1}  # and capped in the other
    counts = ContactCount.objects.filter(shop=shop)
    assert sorted(set(counts.values_list("count", flat=True))) == [1]
    assert counts.count() == 300
