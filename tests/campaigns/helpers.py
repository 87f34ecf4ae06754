"""Campaign fixtures shared by the tests: members with consent, a campaign, and the senders run to the end."""

from collections import Counter

from campaigns.models import Message
from campaigns.sending import send_batch
from campaigns.services import CampaignInput, campaign_create, campaign_finish_if_done, campaign_send
from campaigns.snapshot import snapshot_run
from shops.services import SYSTEM
from shops.sms import LocmemBackend
from tests.factories import MemberFactory


def members(shop, n: int, **fields) -> list:
    fields.setdefault("consents", {"sms": True, "push": True})
    return [MemberFactory(shop=shop, **fields) for _ in range(n)]


def no_quiet_hours(shop) -> None:
    """Tests run at any hour: a shop whose quiet window is empty sends at once (the quiet-hours tests set theirs)."""
    import datetime

    from campaigns.models import MessagingSettings

    MessagingSettings.objects.get_or_create(
        shop=shop, defaults={"quiet_start": datetime.time(0), "quiet_end": datetime.time(0)}
    )


def draft(shop, **fields):
    no_quiet_hours(shop)
    data = {"name": "回归礼", "channel": "sms", "audience": {"filter": {}}, "text": "{name}，好久不见", **fields}
    campaign, _created = campaign_create(shop=shop, actor=SYSTEM, data=CampaignInput(**data))
    return campaign


def started(shop, *, snapshot: bool = True, at=None, **fields):
    """A campaign sent (tasks are eager in tests: the snapshot and the senders run at the commit; with
    `snapshot=False` nothing has run yet). `at`: when it started (in the past, to have orders in its window)."""
    campaign = draft(shop, **fields)
    campaign = campaign_send(shop=shop, actor=SYSTEM, campaign=campaign, now=at)
    if snapshot:
        snapshot_run(shop=shop, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def send_all(shop, campaign, limit: int = 10_000) -> None:
    for _ in range(limit):
        campaign.refresh_from_db()
        if not send_batch(shop=shop, campaign=campaign):
            break
    campaign_finish_if_done(shop=shop, campaign_id=campaign.pk)


def outbox_phones() -> Counter:
    return Counter(m.phone for m in LocmemBackend.outbox)


def rows(shop, campaign):
    return Message.objects.filter(shop=shop, campaign=campaign)
