"""Coupon races on real PostgreSQL connections: stock, per-member limits and single use hold however many
requests arrive at once."""

from decimal import Decimal

import pytest

from coupons.errors import AlreadyRedeemed, LimitReached, OutOfStock
from coupons.issuance import coupon_issue, coupons_issue_bulk
from coupons.models import Coupon, CouponTemplate, Redemption
from coupons.redemption import coupon_redeem
from coupons.rules import Cart
from tests.concurrency import in_scope, race

from .helpers import make_member, make_template

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_thirty_concurrent_claims_on_a_stock_of_ten_issue_exactly_ten(shop):
    template = make_template(shop, stock=10)
    members = [make_member(shop, i) for i in range(30)]

    results = race(
        [
            in_scope(
                shop,
                lambda m=m: coupon_issue(
                    shop=shop, member=m, template=template, idempotency_key=f"c{m.pk}", source="claim"
                ),
            )
            for m in members
        ]
    )

    assert sum(1 for r in results if getattr(r, "created", False)) == 10
    assert sum(1 for r in results if isinstance(r, OutOfStock)) == 20
    assert Coupon.objects.filter(template=template).count() == 10
    assert CouponTemplate.objects.get(pk=template.pk).issued == 10


def test_one_member_racing_for_a_limit_of_two_gets_two(shop):
    template = make_template(shop, per_member_limit=2)
    member = make_member(shop)

    results = race(
        [
            in_scope(
                shop,
                lambda i=i: coupon_issue(
                    shop=shop, member=member, template=template, idempotency_key=f"k{i}", source="claim"
                ),
            )
            for i in range(12)
        ]
    )

    assert sum(1 for r in results if getattr(r, "created", False)) == 2
    assert all(isinstance(r, LimitReached) for r in results if not getattr(r, "created", False))
    assert Coupon.objects.filter(member=member).count() == 2


def test_the_same_key_delivered_sixteen_times_at_once_issues_once(shop):
    template = make_template(shop, per_member_limit=1)
    member = make_member(shop)

    results = race(
        [
            in_scope(
                shop,
                lambda: coupon_issue(
                    shop=shop, member=member, template=template, idempotency_key="same", source="claim"
                ),
            )
            for _ in range(16)
        ]
    )

    assert {r.coupon.pk for r in results} == {Coupon.objects.get(member=member).pk}
    assert sum(r.created for r in results) == 1


def test_claims_racing_a_bulk_grant_never_pass_the_stock_or_the_limit(shop):
    template = make_template(shop, stock=25)
    members = [make_member(shop, i) for i in range(40)]
    ids = [m.pk for m in members]

    results = race(
        [
            in_scope(
                shop,
                lambda: coupons_issue_bulk(
                    shop=shop, template=template, member_ids=ids, key_prefix="g#", source="segment_grant"
                ),
            )
        ]
        + [
            in_scope(
                shop,
                lambda m=m: coupon_issue(
                    shop=shop, member=m, template=template, idempotency_key=f"c{m.pk}", source="claim"
                ),
            )
            for m in members[:20]
        ]
    )

    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, OutOfStock | LimitReached)]
    assert Coupon.objects.filter(template=template).count() == 25
    assert CouponTemplate.objects.get(pk=template.pk).issued == 25
    per_member = {}
    for member_id in Coupon.objects.filter(template=template).values_list("member_id", flat=True):
        per_member[member_id] = per_member.get(member_id, 0) + 1
    assert max(per_member.values()) == 1


def test_fifteen_concurrent_redemptions_of_one_coupon_on_different_orders_succeed_once(shop):
    template = make_template(shop)
    member = make_member(shop)
    coupon = coupon_issue(shop=shop, member=member, template=template, idempotency_key="c", source="claim").coupon

    results = race(
        [
            in_scope(
                shop,
                lambda i=i: coupon_redeem(
                    shop=shop,
                    code=coupon.code,
                    member=member,
                    order_external_id=f"O-{i}",
                    cart=Cart(amount=Decimal("150")),
                ),
            )
            for i in range(15)
        ]
    )

    assert sum(1 for r in results if getattr(r, "created", False)) == 1
    assert sum(1 for r in results if isinstance(r, AlreadyRedeemed)) == 14
    assert Redemption.objects.filter(coupon=coupon).count() == 1
