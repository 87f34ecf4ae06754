"""Automation fixtures: the shop's default automations switched on, events delivered, steps run, messages sent."""

from collections import Counter

from automations.models import Automation, Journey, Step
from automations.steps import automation_advance
from campaigns.models import Campaign, Message
from campaigns.sending import send_batch
from events.models import Cursor
from events.tasks import events_dispatch
from shops.sms import LocmemBackend
from tests.campaigns.helpers import no_quiet_hours

__all__ = ["no_quiet_hours"]


def switch_on(shop, key: str, **fields) -> Automation:
    """The shop's default automation `key`, switched on (with `fields` changed), quiet hours off."""
    no_quiet_hours(shop)
    automation = Automation.objects.get(shop=shop, key=key)
    fields.setdefault("holdout_percent", 0)
    for name, value in {"enabled": True, **fields}.items():
        setattr(automation, name, value)
    automation.save()
    return automation


def deliver(shop, again: bool = False) -> None:
    """What the dispatcher does after the commits (a test's transaction never reaches them); `again`: the
    automations' cursor is moved back first, so every event is read a second time."""
    if again:
        Cursor.objects.filter(shop=shop, consumer="automations.triggers").update(position=0)
    events_dispatch(shop.pk)


def advance(shop, now=None) -> int:
    return sum(automation_advance(shop=shop, automation=a, now=now) for a in Automation.objects.filter(shop=shop))


def send_all(shop) -> None:
    """Send every queued message of the shop's standing campaigns."""
    for campaign in Campaign.objects.filter(shop=shop, standing=True):
        while send_batch(shop=shop, campaign=campaign):
            pass


def run(shop, now=None) -> None:
    """Deliver the events, run the due steps and send."""
    deliver(shop)
    advance(shop, now=now)
    send_all(shop)


def messages(shop, automation: Automation):
    campaigns = Step.objects.filter(shop=shop, automation=automation, campaign__isnull=False).values("campaign_id")
    return Message.objects.filter(shop=shop, campaign_id__in=campaigns)


def journeys(shop, automation: Automation):
    return Journey.objects.filter(shop=shop, automation=automation)


def outbox_phones() -> Counter:
    return Counter(m.phone for m in LocmemBackend.outbox)
