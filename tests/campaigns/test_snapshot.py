"""The snapshot (SPEC 12): one row per member of the audience, queued or suppressed with its reason; consent,
contact budget, quiet hours and holdout applied set-based."""

import datetime
from collections import Counter

import pytest
from django.utils import timezone

from campaigns.audience import timing_plan
from campaigns.models import ContactCount, MessagingSettings, QuietHoursPolicy
from campaigns.selectors import messaging_settings_get
from members.models import Device
from members.services import member_erase, member_set_frozen, member_update
from shops.services import SYSTEM

from .helpers import draft, members, rows, started

pytestmark = pytest.mark.django_db


def reasons(shop, campaign) -> Counter:
    return Counter((r.status, r.reason) for r in rows(shop, campaign))


def test_each_member_once_with_the_reason_it_is_not_messaged(shop, other_shop):
    ok = members(shop, 5)
    members(shop, 1, consents={})  # never consented
    withdrawn = members(shop, 1)
    member_update(shop=shop, member=withdrawn[0], consents={"sms": False}, source="portal")
    frozen = members(shop, 1)
    member_set_frozen(shop=shop, member=frozen[0], actor=SYSTEM, frozen=True)
    erased = members(shop, 1)
    member_erase(shop=shop, member=erased[0], actor=SYSTEM)
    members(other_shop, 3)  # another shop's members are never in the audience

    campaign = started(shop, holdout_percent=0)

    assert reasons(shop, campaign) == Counter(
        {
            ("queued", ""): len(ok),
            ("suppressed", "no_consent"): 1,
            ("suppressed", "unsubscribed"): 1,
            ("suppressed", "frozen"): 1,
        }
    )
    assert rows(shop, campaign).count() == 8  # the erased member is nobody to message
    assert campaign.snapshot_done


def test_a_second_snapshot_run_writes_nothing_more(shop):
    members(shop, 4)
    campaign = started(shop, holdout_percent=0)
    from campaigns.snapshot import snapshot_chunk

    campaign.snapshot_done = False
    campaign.snapshot_cursor = 0
    campaign.save()
    assert snapshot_chunk(shop=shop, campaign_id=campaign.pk, chunk=2) is False
    assert snapshot_chunk(shop=shop, campaign_id=campaign.pk, chunk=2) is False
    assert snapshot_chunk(shop=shop, campaign_id=campaign.pk, chunk=2) is True
    assert rows(shop, campaign).count() == 4


def test_push_needs_an_active_device(shop):
    with_device, without = members(shop, 1), members(shop, 1)
    Device.objects.create(shop=shop, member=with_device[0], platform="ios", token="tok-1")
    campaign = started(shop, channel="push", holdout_percent=0)
    assert {r.member_id: r.reason for r in rows(shop, campaign)} == {with_device[0].pk: "", without[0].pk: "no_address"}


def test_in_app_needs_no_consent(shop):
    members(shop, 2, consents={})
    campaign = started(shop, channel="in_app", holdout_percent=0)
    assert reasons(shop, campaign) == Counter({("queued", ""): 2})


def test_holdout_takes_the_share_by_bucket_and_is_fixed_per_campaign(shop):
    from campaigns.audience import HOLDOUT_STEP, audience_preview
    from campaigns.models import MessagingSettings

    audience = members(shop, 400)
    buckets = {m.pk: m.bucket for m in audience}
    first = started(shop, holdout_percent=20)
    held = set(rows(shop, first).filter(reason="holdout").values_list("member_id", flat=True))
    assert 50 <= len(held) <= 110  # 20% of 400, by random buckets
    # Fixed by bucket: exactly the members whose bucket falls in this campaign's moved range.
    offset = first.pk * HOLDOUT_STEP % 10_000
    assert held == {pk for pk, bucket in buckets.items() if (bucket + offset) % 10_000 < 2000}
    # The same campaign classifies the same members again; the next one holds out another range.
    settings = MessagingSettings.objects.get(shop=shop)
    again = audience_preview(shop=shop, campaign=first, settings=settings, start=first.started_at)
    assert again["suppressed"]["holdout"] == len(held)
    second = started(shop, holdout_percent=20, name="第二个")
    held_second = set(rows(shop, second).filter(reason="holdout").values_list("member_id", flat=True))
    assert held_second != held


def test_the_contact_budget_caps_a_member_across_campaigns(shop):
    members(shop, 3)
    first = started(shop, holdout_percent=0)
    second = started(shop, holdout_percent=0, name="第二个")
    assert reasons(shop, first) == Counter({("queued", ""): 3})
    assert reasons(shop, second) == Counter({("suppressed", "capped"): 3})
    assert sum(ContactCount.objects.filter(shop=shop).values_list("count", flat=True)) == 3


def test_the_weekly_cap_counts_the_seven_days_before(shop):
    (member,) = members(shop, 1)
    MessagingSettings.objects.create(
        shop=shop, daily_cap=1, weekly_cap=2, quiet_start=datetime.time(0), quiet_end=datetime.time(0)
    )
    today = timezone.localdate(timezone.now(), timezone=datetime.timezone(datetime.timedelta(hours=8)))
    ContactCount.objects.create(shop=shop, member=member, day=today - datetime.timedelta(days=3), count=1)
    ContactCount.objects.create(shop=shop, member=member, day=today - datetime.timedelta(days=6), count=1)
    assert reasons(shop, started(shop, holdout_percent=0)) == Counter({("suppressed", "capped"): 1})
    ContactCount.objects.filter(shop=shop, day=today - datetime.timedelta(days=6)).delete()
    ContactCount.objects.create(shop=shop, member=member, day=today - datetime.timedelta(days=7), count=1)
    assert reasons(shop, started(shop, holdout_percent=0, name="b")) == Counter({("queued", ""): 1})


def _at(shop, hour: int, minute: int = 0) -> datetime.datetime:
    from shops.time import shop_zone

    return datetime.datetime(2026, 3, 10, hour, minute, tzinfo=shop_zone(shop))


@pytest.mark.parametrize(
    ("hour", "minute", "deferred"),
    [(20, 59, False), (21, 0, True), (23, 30, True), (7, 59, True), (8, 0, False)],
)
def test_quiet_hours_defer_to_the_window_end_in_the_shop_zone(shop, hour, minute, deferred):
    campaign = draft(shop)
    MessagingSettings.objects.filter(shop=shop).delete()  # the defaults: 21:00-08:00
    settings = messaging_settings_get(shop=shop)
    start = _at(shop, hour, minute)
    plan = timing_plan(shop=shop, campaign=campaign, settings=settings, start=start)
    due, _day = plan.by_hour[-1]
    if not deferred:
        assert due == start
    else:
        assert due.astimezone(_at(shop, 0).tzinfo).time() == datetime.time(8, 0)
        assert due > start and due - start <= datetime.timedelta(hours=11)


def test_quiet_hours_drop_suppresses_when_the_campaign_says(shop, monkeypatch):
    members(shop, 2)
    campaign = draft(shop, quiet_hours=QuietHoursPolicy.DROP, holdout_percent=0)
    MessagingSettings.objects.filter(shop=shop).delete()  # the defaults: 21:00-08:00
    monkeypatch.setattr(timezone, "now", lambda: _at(shop, 22))
    from campaigns.services import campaign_send
    from campaigns.snapshot import snapshot_run

    campaign_send(shop=shop, actor=SYSTEM, campaign=campaign)
    snapshot_run(shop=shop, campaign_id=campaign.pk)
    assert reasons(shop, campaign) == Counter({("suppressed", "quiet_hours"): 2})
    assert not ContactCount.objects.filter(shop=shop).exists()  # a dropped message uses no budget


def test_active_hour_sends_each_member_at_the_hour_they_buy(shop):
    from tests.factories import OrderFactory

    buyer, newcomer = members(shop, 1), members(shop, 1)
    for day in (1, 2, 3):
        OrderFactory(member=buyer[0], paid_at=_at(shop, 14) - datetime.timedelta(days=day))
    settings = messaging_settings_get(shop=shop)
    campaign = draft(shop, send_at_active_hour=True, holdout_percent=0)
    start = _at(shop, 9)
    campaign.started_at = start
    campaign.status = "sending"
    campaign.save()
    from campaigns.snapshot import snapshot_run

    snapshot_run(shop=shop, campaign_id=campaign.pk)
    due = {r.member_id: r.due_at for r in rows(shop, campaign)}
    assert due[buyer[0].pk] == _at(shop, 14)
    assert due[newcomer[0].pk] == _at(shop, settings.fallback_hour)


def test_the_preview_counts_what_the_snapshot_then_writes(shop):
    from campaigns.audience import audience_preview

    audience = members(shop, 30)
    members(shop, 4, consents={})
    campaign = draft(shop, holdout_percent=10)
    from shops.time import local_today

    for member in audience[:5]:  # five have had their message today: capped, unless held out first
        ContactCount.objects.create(shop=shop, member=member, day=local_today(shop), count=1)
    settings = messaging_settings_get(shop=shop)
    preview = audience_preview(shop=shop, campaign=campaign, settings=settings, start=timezone.now())
    assert ContactCount.objects.filter(shop=shop).count() == 5  # nothing written
    from campaigns.services import campaign_send
    from campaigns.snapshot import snapshot_run

    campaign_send(shop=shop, actor=SYSTEM, campaign=campaign)
    snapshot_run(shop=shop, campaign_id=campaign.pk)
    written = reasons(shop, campaign)
    assert preview["queued"] == written[("queued", "")]
    assert preview["suppressed"] == {r: n for (s, r), n in written.items() if s == "suppressed"}
    assert preview["audience"] == 34
    assert preview["suppressed"].get("capped", 0) >= 1  # the five, less any held out first
