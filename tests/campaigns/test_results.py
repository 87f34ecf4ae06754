"""What a campaign gives and what it earned: the attached coupon (issued with the message, once, the rest reported),
and the report's funnel and uplift against the holdout on a seeded run."""

import datetime
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import MessageStatus
from campaigns.reports import campaign_report
from campaigns.snapshot import snapshot_run
from coupons.models import Coupon
from shops.sms import LocmemBackend
from tests.factories import CouponTemplateFactory, OrderFactory

from .helpers import members, rows, send_all, started

pytestmark = pytest.mark.django_db


def test_each_treated_member_gets_the_coupon_once_and_its_code_in_the_text(shop):
    audience = members(shop, 6)
    template = CouponTemplateFactory(shop=shop, stock=4, per_member_limit=1)
    campaign = started(shop, holdout_percent=0, coupon_template_id=template.pk, text="送您一张券：{coupon}")
    snapshot_run(shop=shop, campaign_id=campaign.pk)  # a second run issues nothing twice
    send_all(shop, campaign)
    coupons = Coupon.objects.filter(shop=shop, template=template)
    assert coupons.count() == 4  # the stock
    campaign.refresh_from_db()
    assert campaign.coupon_counts["issued"] == 4
    assert campaign.coupon_counts["skipped_stock"] == 2  # reported, not silently skipped
    with_coupon = rows(shop, campaign).exclude(coupon=None)
    assert with_coupon.count() == 4
    texts = {m.phone: m.text for m in LocmemBackend.outbox}
    for row in with_coupon.select_related("coupon", "member"):
        assert row.coupon.member_id == row.member_id
        assert row.coupon.code in texts[row.member.phone]
    assert len(texts) == len(audience)


def test_the_report_compares_treated_and_holdout_over_the_window(shop):
    rng = random.Random(18)
    members(shop, 600)
    campaign = started(shop, holdout_percent=20, at=timezone.now() - datetime.timedelta(days=9))
    send_all(shop, campaign)
    campaign.refresh_from_db()
    treated = list(rows(shop, campaign).filter(status=MessageStatus.SENT).select_related("member"))
    held = list(rows(shop, campaign).filter(reason="holdout").select_related("member"))
    assert len(treated) + len(held) == 600 and 80 <= len(held) <= 160
    start = campaign.started_at
    # Seeded outcomes: treated members buy at 30%, held-out ones at 10%; an order before the start or after the
    # window never counts, nor does a cancelled one.
    bought = {"treated": 0, "holdout": 0}
    for group, people, rate in (("treated", treated, 0.3), ("holdout", held, 0.1)):
        for row in people:
            if rng.random() < rate:
                OrderFactory(member=row.member, amount=Decimal("50.00"), paid_at=start + datetime.timedelta(hours=5))
                bought[group] += 1
    some = treated[0].member
    OrderFactory(member=some, amount=Decimal("999"), paid_at=start - datetime.timedelta(days=1))
    OrderFactory(member=some, amount=Decimal("999"), paid_at=start + datetime.timedelta(days=8))
    OrderFactory(member=some, amount=Decimal("999"), paid_at=start + datetime.timedelta(hours=1), status="cancelled")

    report = campaign_report(shop=shop, campaign=campaign, now=start + datetime.timedelta(days=1))
    assert report["final"] is False
    uplift = report["uplift"]
    assert uplift["treated"]["converted"] == bought["treated"]
    assert uplift["holdout"]["converted"] == bought["holdout"]
    assert uplift["treated"]["sales"] == f"{bought['treated'] * 50}.00"
    conversion = uplift["conversion"]
    expected = bought["treated"] / len(treated) - bought["holdout"] / len(held)
    assert conversion["difference"] == pytest.approx(expected)
    assert conversion["low"] < conversion["difference"] < conversion["high"]
    assert conversion["significant"] is True  # 30% against 10% on hundreds of members
    revenue = uplift["revenue_per_member"]
    assert revenue["significant"] is True and revenue["difference"] > 0
    assert report["counts"]["converted"] == bought["treated"]


def test_no_effect_is_not_significant_and_the_report_freezes_after_the_window(shop):
    rng = random.Random(7)
    members(shop, 400)
    campaign = started(shop, holdout_percent=20, at=timezone.now() - datetime.timedelta(days=9))
    send_all(shop, campaign)
    campaign.refresh_from_db()
    for row in (
        rows(shop, campaign).exclude(status=MessageStatus.SUPPRESSED, reason="no_consent").select_related("member")
    ):
        if rng.random() < 0.2:  # the same rate in both groups
            OrderFactory(member=row.member, paid_at=campaign.started_at + datetime.timedelta(hours=2))
    later = campaign.started_at + datetime.timedelta(days=campaign.attribution_days, seconds=1)
    report = campaign_report(shop=shop, campaign=campaign, now=later)
    assert report["final"] is True
    assert report["uplift"]["conversion"]["significant"] is False
    campaign.refresh_from_db()
    assert campaign.report == report  # frozen: later orders change nothing
    OrderFactory(member=rows(shop, campaign).first().member, paid_at=timezone.now())
    assert campaign_report(shop=shop, campaign=campaign) == report
