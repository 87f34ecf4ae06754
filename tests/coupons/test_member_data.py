"""Coupons in the member's timeline and privacy export (coupons.member_data, via members.timeline)."""

import datetime
import json
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.core.serializers.json import DjangoJSONEncoder

from coupons.issuance import coupon_issue
from coupons.mall import gift_save, mall_cancel, mall_exchange
from coupons.redemption import coupon_redeem, coupons_expire, coupons_reverse_for_order
from coupons.rules import Cart
from members.timeline import member_data_export, member_timeline
from points.services import points_earn
from shops.services import SYSTEM

from .helpers import make_member, make_template

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
T0 = datetime.datetime(2026, 5, 1, 10, 0, tzinfo=SHANGHAI)


def at(hours: int) -> datetime.datetime:
    return T0 + datetime.timedelta(hours=hours)


@pytest.fixture
def history(shop, other_shop):
    """One member's coupon life, an hour apart: claimed, used, refunded (given back), expired, a mall coupon, a gift
    exchanged then cancelled. The other shop's member, with the same phone, has a coupon of their own."""
    member = make_member(shop, name="张三")
    used = make_template(shop, name="满100减20")
    short = make_template(shop, name="当日券", valid_days=1)
    mall = make_template(shop, name="积分券", points_price=50)
    gift = gift_save(shop=shop, actor=SYSTEM, name="保温杯", points_price=300, stock=5)
    points_earn(shop=shop, member=member, points=1000, idempotency_key="seed")
    with time_machine.travel(at(0), tick=False):
        claimed = coupon_issue(shop=shop, member=member, template=used, idempotency_key="c1", source="claim").coupon
        coupon_issue(shop=shop, member=member, template=short, idempotency_key="c2", source="birthday")
    coupon_redeem(
        shop=shop, code=claimed.code, member=member, order_external_id="A100", cart=Cart(Decimal("150")), now=at(1)
    )
    coupons_reverse_for_order(shop=shop, order_external_id="A100", now=at(2))
    coupons_expire(shop=shop, now=at(24 * 3))
    with time_machine.travel(at(24 * 3 + 1), tick=False):
        mall_exchange(shop=shop, member=member, template=mall, idempotency_key="m1")
    with time_machine.travel(at(24 * 3 + 2), tick=False):
        exchange, _ = mall_exchange(
            shop=shop,
            member=member,
            gift=gift,
            idempotency_key="m2",
            recipient_name="张三",
            recipient_phone="13800138000",
            address="上海市南京东路1号",
        )
    with time_machine.travel(at(24 * 3 + 3), tick=False):
        mall_cancel(shop=shop, exchange=exchange, reason="缺货")
    foreign = make_member(other_shop, name="别人")
    coupon_issue(
        shop=other_shop,
        member=foreign,
        template=make_template(other_shop, name="乙店券"),
        idempotency_key="c1",
        source="claim",
    )
    return member


def test_the_timeline_has_every_coupon_event_newest_first(shop, history):
    events = [(e.at, e.title, e.detail) for e in member_timeline(shop=shop, member=history) if e.kind == "coupon"]

    assert events == [
        (at(75), "Points mall exchange cancelled: 保温杯", "300 points given back"),
        (at(74), "Points mall: 保温杯 for 300 points", "Cancelled"),
        (at(73), "Coupon received: 积分券", "Bought with points"),
        (at(73), "Points mall: 积分券 for 50 points", "Done"),
        (at(72), "Coupon expired: 当日券", ""),
        (at(2), "Coupon given back: 满100减20", "Order A100 refunded"),
        (at(1), "Coupon used: 满100减20", "Order A100 · CNY 20.00 off"),
        (at(0), "Coupon received: 当日券", "Birthday gift"),
        (at(0), "Coupon received: 满100减20", "Claimed by the member"),
    ]


def test_the_timeline_keeps_to_its_limit(shop, history):
    assert len(member_timeline(shop=shop, member=history, limit=3)) == 3


def test_the_export_holds_the_coupons_redemptions_and_exchanges(shop, history):
    data = member_data_export(shop=shop, member=history)

    assert [(c["coupon"], c["source"], c["status"]) for c in data["coupons"]] == [
        ("满100减20", "claim", "available"),
        ("当日券", "birthday", "expired"),
        ("积分券", "points_exchange", "available"),
    ]
    [redemption] = data["coupon_redemptions"]
    assert {k: redemption[k] for k in ("order_external_id", "order_amount", "discount", "reversal")} == {
        "order_external_id": "A100",
        "order_amount": Decimal("150.00"),
        "discount": Decimal("20.00"),
        "reversal": "restored",
    }
    assert redemption["code"] == data["coupons"][0]["code"]
    assert [
        (e["reward"], e["kind"], e["points"], e["status"], e["address"]) for e in data["points_mall_exchanges"]
    ] == [
        ("积分券", "coupon", 50, "done", ""),
        ("保温杯", "gift", 300, "cancelled", "上海市南京东路1号"),
    ]
    assert data["points_mall_exchanges"][1]["points_given_back_at"] == at(75)
    assert "乙店券" not in json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)
