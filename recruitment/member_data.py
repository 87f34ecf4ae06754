"""What recruitment knows about a member, for the member's timeline and privacy export (members.timeline;
registered for the extension point MEMBER_DATA): the channel they joined through and the referrals they made or
came by."""

from django.utils.translation import gettext as _

from members.models import Member
from members.timeline import TimelineEvent
from shops.models import Shop

from .models import Referral, ReferralCode, ReferralStatus
from .referrals import REFUSALS
from .selectors import channel_of_join


def _referrals(shop: Shop, member: Member):
    return Referral.objects.filter(shop=shop, inviter=member).select_related("invitee")


def _outcome(referral: Referral) -> str:
    if referral.status == ReferralStatus.REFUSED:
        return str(REFUSALS.get(referral.refusal, referral.refusal))
    return str(ReferralStatus(referral.status).label)


def timeline(*, shop: Shop, member: Member, limit: int) -> list[TimelineEvent]:
    """The member's joining channel and latest invitations, newest first."""
    events = []
    channel = channel_of_join(shop=shop, join_channel=member.join_channel)
    if channel is not None:
        events.append(
            TimelineEvent(
                at=member.joined_at,
                kind="recruitment",
                title=_("Joined through %(channel)s") % {"channel": channel.name},
            )
        )
    came_by = Referral.objects.filter(shop=shop, invitee=member).select_related("inviter").first()
    if came_by is not None:
        events.append(
            TimelineEvent(
                at=came_by.created_at,
                kind="recruitment",
                title=_("Invited by %(inviter)s") % {"inviter": came_by.inviter},
                detail=_outcome(came_by),
            )
        )
    for referral in _referrals(shop, member).order_by("-created_at", "-id")[:limit]:
        events.append(
            TimelineEvent(
                at=referral.created_at,
                kind="recruitment",
                title=_("Invited %(invitee)s") % {"invitee": referral.invitee},
                detail=_outcome(referral),
            )
        )
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:limit]


def export(*, shop: Shop, member: Member) -> dict:
    """The joining channel, the member's referral code and invitations (invitees by member number only: their
    personal data is theirs)."""
    channel = channel_of_join(shop=shop, join_channel=member.join_channel)
    code = ReferralCode.objects.filter(shop=shop, member=member).values_list("code", flat=True).first()
    return {
        "joined_through": channel.name if channel else member.join_channel,
        "referral_code": code or "",
        "invited_by_member_id": member.referrer_id,
        "referrals": [
            {
                "invitee_member_id": r.invitee_id,
                "joined_at": r.created_at,
                "status": r.status,
                "refusal": r.refusal,
                "rewarded_at": r.rewarded_at,
            }
            for r in _referrals(shop, member).order_by("created_at", "id")
        ],
    }
