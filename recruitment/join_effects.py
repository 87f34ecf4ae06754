"""What a new member's joining does in recruitment (settings.MEMBER_JOIN_EFFECTS, called by
members.services.member_enroll in the enrolment's transaction): attribution to the channel named by
`join_channel` with its tags, welcome gift and join count, and the referral of `referrer_code`."""

from members.models import Member
from members.services import Enrolment
from shops.models import Shop

from .referrals import referral_record
from .selectors import channel_of_join, referrer_by_code
from .welcome import channel_join


def member_joined(*, shop: Shop, member: Member, data: Enrolment) -> None:
    channel = channel_of_join(shop=shop, join_channel=data.channel)
    if channel is not None:
        channel_join(shop=shop, member=member, channel=channel)
    if data.referrer_code:
        inviter = referrer_by_code(shop=shop, code=data.referrer_code)
        if inviter is not None:
            referral_record(shop=shop, invitee=member, inviter=inviter, ip=data.ip)
