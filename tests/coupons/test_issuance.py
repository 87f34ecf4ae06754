"""Issuing coupons: idempotency, stock, per-member limits, audience and windows."""

import datetime
import zoneinfo

import pytest
from django.utils import timezone

from coupons.errors import IdempotencyConflict, LimitReached, NotIssuable, OutOfStock
from coupons.issuance import coupon_issue, coupons_issue_bulk
from coupons.models import Coupon, CouponTemplate, Source
from coupons.services import template_set_status
from members.services import member_set_frozen
from shops.services import SYSTEM

from .helpers import days, make_member, make_template

pytestmark = pytest.mark.django_db


def test_a_claim_issues_one_coupon_with_a_random_code_and_a_window_to_the_end_of_the_last_local_day(shop):
    template = make_template(shop, valid_days=7)
    member = make_member(shop)
    now = datetime.datetime(2026, 3, 1, 20, 30, tzinfo=datetime.UTC)  # 04:30 on 2 March in Shanghai

    issued = coupon_issue(shop=shop, member=member, template=template, idempotency_key="c1", source="claim", now=now)

    coupon = issued.coupon
    assert issued.created
    assert len(coupon.code) == 16 and coupon.code == coupon.code.upper()
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    assert coupon.valid_from == now
    assert coupon.valid_until == datetime.datetime(2026, 3, 9, tzinfo=shanghai)
    template.refresh_from_db()
    assert template.issued == 1


def test_a_replay_returns_the_first_coupon_and_another_member_under_the_key_is_a_conflict(shop):
    template = make_template(shop, per_member_limit=5)
    first, second = make_member(shop, 1), make_member(shop, 2)
    issued = coupon_issue(shop=shop, member=first, template=template, idempotency_key="k", source="claim")

    again = coupon_issue(shop=shop, member=first, template=template, idempotency_key="k", source="claim")

    assert not again.created and again.coupon.pk == issued.coupon.pk
    with pytest.raises(IdempotencyConflict):
        coupon_issue(shop=shop, member=second, template=template, idempotency_key="k", source="claim")
    assert Coupon.objects.count() == 1
    assert CouponTemplate.objects.get(pk=template.pk).issued == 1


def test_stock_and_the_per_member_limit_refuse_and_change_nothing(shop):
    template = make_template(shop, stock=2, per_member_limit=1)
    a, b, c = make_member(shop, 1), make_member(shop, 2), make_member(shop, 3)
    coupon_issue(shop=shop, member=a, template=template, idempotency_key="a", source="claim")

    with pytest.raises(LimitReached):
        coupon_issue(shop=shop, member=a, template=template, idempotency_key="a2", source="claim")
    coupon_issue(shop=shop, member=b, template=template, idempotency_key="b", source="claim")
    with pytest.raises(OutOfStock):
        coupon_issue(shop=shop, member=c, template=template, idempotency_key="c", source="claim")

    assert Coupon.objects.filter(template=template).count() == 2
    assert CouponTemplate.objects.get(pk=template.pk).issued == 2


def test_claims_respect_the_claim_window_status_and_audience(shop):
    now = timezone.now()
    template = make_template(shop, claim_starts_at=now + days(1))
    member = make_member(shop)
    with pytest.raises(NotIssuable) as refused:
        coupon_issue(shop=shop, member=member, template=template, idempotency_key="x", source="claim", now=now)
    assert refused.value.code == "claim_not_started"
    # staff grants are not held to the claim window
    coupon_issue(shop=shop, member=member, template=template, idempotency_key="g", source="grant", now=now)

    new_only = make_template(shop, name="新人券", audience="new_members", new_member_days=7)
    with pytest.raises(NotIssuable) as outside:
        coupon_issue(
            shop=shop, member=member, template=new_only, idempotency_key="n", source="claim", now=now + days(8)
        )
    assert outside.value.code == "outside_audience"

    template_set_status(shop=shop, actor=SYSTEM, template=new_only, status="paused")
    with pytest.raises(NotIssuable):
        coupon_issue(shop=shop, member=member, template=new_only, idempotency_key="p", source="claim")
    assert Coupon.objects.filter(template=new_only).count() == 0


def test_bulk_issue_skips_and_counts_then_a_rerun_issues_nothing_more(shop):
    template = make_template(shop, stock=3, per_member_limit=1)
    members = [make_member(shop, i) for i in range(6)]
    coupon_issue(shop=shop, member=members[0], template=template, idempotency_key="own", source="claim")
    member_set_frozen(shop=shop, actor=SYSTEM, member=members[1], frozen=True)
    ids = [m.pk for m in members]

    first = coupons_issue_bulk(
        shop=shop, template=template, member_ids=ids, key_prefix="t#", source=Source.SEGMENT_GRANT
    )
    second = coupons_issue_bulk(
        shop=shop, template=template, member_ids=ids, key_prefix="t#", source=Source.SEGMENT_GRANT
    )

    assert (first.considered, first.issued, first.skipped_limit, first.skipped_inactive, first.skipped_stock) == (
        6,
        2,
        1,
        1,
        2,
    )
    assert second.issued == 0 and second.already == 2
    assert (
        sorted(Coupon.objects.filter(template=template, source="segment_grant").values_list("member_id", flat=True))
        == ids[2:4]
    )
    assert CouponTemplate.objects.get(pk=template.pk).issued == 3
