"""Coupon test helpers: templates and members made through the services (tests.factories)."""

import datetime

from members.services import Enrolment, member_enroll
from tests.factories import CouponTemplateFactory


def make_template(shop, **fields):
    return CouponTemplateFactory(shop=shop, **{"name": "满100减20", **fields})


def make_member(shop, n: int = 0, **fields):
    return member_enroll(shop=shop, data=Enrolment(phone=f"1380013{n:04d}", **fields))[0]


def days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)
