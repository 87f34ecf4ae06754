"""What campaigns knows about a member, for the member's timeline and privacy export (members.timeline; registered
for the extension point MEMBER_DATA): the campaign messages addressed to them, sent or suppressed."""

from django.utils.translation import gettext as _

from members.models import Member
from members.timeline import TimelineEvent
from shops.models import Shop

from .models import Channel, MessageStatus, Reason
from .selectors import member_messages


def timeline(*, shop: Shop, member: Member, limit: int) -> list[TimelineEvent]:
    """The member's latest `limit` messages, newest first, at the time they were sent (or due, if not sent)."""
    channels, statuses, reasons = dict(Channel.choices), dict(MessageStatus.choices), dict(Reason.choices)
    events = []
    for message in member_messages(shop=shop, member_id=member.pk, limit=limit):
        status = str(statuses.get(message.status, message.status))
        if message.status == MessageStatus.SUPPRESSED and message.reason:
            status = f"{status}: {reasons.get(message.reason, message.reason)}"
        if message.clicked_at:
            status = f"{status} · {_('link clicked')}"
        events.append(
            TimelineEvent(
                at=message.sent_at or message.due_at,
                kind="message",
                title=_("Campaign: %(name)s") % {"name": message.campaign.name},
                detail=f"{channels.get(message.channel, message.channel)} · {status}",
            )
        )
    return events


def export(*, shop: Shop, member: Member) -> dict:
    """Every campaign message addressed to the member, oldest first, with the text as sent."""
    messages = member_messages(shop=shop, member_id=member.pk, limit=None)
    return {
        "campaign_messages": [
            {
                "campaign": m.campaign.name,
                "channel": m.channel,
                "status": m.status,
                "reason": m.reason,
                "due_at": m.due_at,
                "sent_at": m.sent_at,
                "delivered_at": m.delivered_at,
                "clicked_at": m.clicked_at,
                "address": m.address,
                "text": m.text,
            }
            for m in reversed(list(messages))
        ]
    }
