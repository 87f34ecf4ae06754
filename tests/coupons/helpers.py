"""Coupon test helpers: templates and members made through the services."""

import datetime
from decimal import Decimal

from coupons.services import template_create
from members.services import Enrolment, member_enroll
from shops.services import SYSTEM


def make_template(shop, **fields):
    data = {"name": "满100减20", "kind": "amount_off", "value": Decimal("20"), "min_spend": Decimal("100"),
            "valid_days": 30}  # fmt: skip
    data.update(fields)
    if "valid_until" in fields:
        data.pop("valid_days", None) if "valid_days" not in fields else None
    return template_create(shop=shop, actor=SYSTEM, data=data)


def make_member(shop, n: int = 0, **fields):
    return member_enroll(shop=shop, data=Enrolment(phone=f"1380013{n:04d}", **fields))[0]


def days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)
