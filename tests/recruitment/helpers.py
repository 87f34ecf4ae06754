"""Recruitment test helpers: channels, members and referral programs made through the services."""

from members.services import Enrolment, member_enroll
from recruitment.models import ReferralProgram
from recruitment.referrals import referral_code_for, referral_program_save
from shops.services import SYSTEM
from tests.factories import ChannelFactory


def make_channel(shop, name="门店收银台", **fields):
    return ChannelFactory(shop=shop, name=name, **fields)


def join(shop, n: int = 0, **fields):
    """Enrol a shopper as the portal does; returns (member, created)."""
    return member_enroll(shop=shop, data=Enrolment(phone=f"1390013{n:04d}", **fields), source="portal")


def program(shop, **fields) -> ReferralProgram:
    values = {"enabled": True, "inviter_points": 100, "invitee_points": 50} | fields
    return referral_program_save(shop=shop, actor=SYSTEM, program=ReferralProgram(shop=shop, **values))


def invite_code(shop, member) -> str:
    return referral_code_for(shop=shop, member=member)
