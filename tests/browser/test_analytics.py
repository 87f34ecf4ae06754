"""The overview and the analytics pages in a real browser, at 1366 and 390 pixels, in zh-Hans (and the sales page
in English): two months of orders, joins, points and coupons rolled up, every page opened from the navigation
and its sub-navigation, no server error, no CSP violation, and screenshots in $TEST_OUTPUT_DIR to look at."""

import datetime
import random
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import time_machine

from analytics.rollups import points_expiry_snapshot, rollup_days
from coupons.issuance import coupon_issue
from coupons.redemption import coupon_redeem
from coupons.rules import Cart
from orders.services import OrderInput, RefundInput, order_record, refund_record
from points.models import PointsProgram
from points.services import points_redeem
from shops.time import local_today, shop_zone
from tests.factories import CouponTemplateFactory, MemberFactory

from .conftest import PHONE, chromium_missing_reason, log_in

_reason = chromium_missing_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)

pytestmark = pytest.mark.browser

WIDE = {"width": 1366, "height": 900}
DAYS = 70
PAGES = [("analytics", "趋势"), ("analytics_sales", "销售额"), ("analytics_members", "会员"),
         ("analytics_points", "积分"), ("analytics_coupons", "优惠券")]  # fmt: skip


@pytest.fixture
def program(shop):
    """70 days of a small shop: members joining, buying (some twice), refunds, points spent, coupons used."""
    rng = random.Random(20)
    zone = shop_zone(shop)
    today = local_today(shop)
    PointsProgram.objects.filter(shop=shop).update(points_per_cash_unit=100)
    template = CouponTemplateFactory(shop=shop, valid_days=90, per_member_limit=1000)
    members = []
    for back in range(DAYS, 0, -1):
        day = today - datetime.timedelta(days=back)
        moment = datetime.datetime.combine(day, datetime.time(10), tzinfo=zone)
        for _ in range(rng.randint(1, 4)):
            members.append(MemberFactory(shop=shop, joined_at=moment))
        for n in range(rng.randint(3, 9) + (4 if day.weekday() >= 5 else 0)):
            buyer = rng.choice(members) if rng.random() < 0.7 else None
            paid = moment + datetime.timedelta(hours=rng.randint(0, 11), minutes=n)
            amount = Decimal(rng.randint(40, 900))
            external = f"O{back}-{n}"
            if buyer is not None and rng.random() < 0.15:
                coupon = coupon_issue(shop=shop, member=buyer, template=template, idempotency_key=f"c{back}-{n}",
                                      source="grant", check_audience=False, now=paid).coupon  # fmt: skip
                if amount >= 100:
                    coupon_redeem(shop=shop, code=coupon.code, member=buyer, order_external_id=external,
                                  cart=Cart(amount), now=paid)  # fmt: skip
            with time_machine.travel(paid, tick=False):
                created = order_record(
                    shop=shop, data=OrderInput(external_id=external, amount=amount, paid_at=paid,
                                               member_id=buyer.pk if buyer else None, phone=""),
                ).order  # fmt: skip
                if rng.random() < 0.05:
                    refund_record(shop=shop, order=created,
                                  data=RefundInput(external_id=f"R{external}", amount=amount / 2))  # fmt: skip
                if buyer is not None and rng.random() < 0.1:
                    buyer.refresh_from_db()
                    if buyer.points_balance >= 100:
                        points_redeem(shop=shop, member=buyer, points=100, idempotency_key=f"p{external}")
    rollup_days(shop=shop, first=today - datetime.timedelta(days=DAYS + 10), last=today - datetime.timedelta(days=1))
    points_expiry_snapshot(shop=shop, taken_on=today)


def test_the_overview_and_the_analytics_pages(new_page, shop, owner, program, screenshot_dir):
    for name, viewport in (("1366", WIDE), ("390", PHONE)):
        page = new_page(viewport=viewport)
        problems = []
        page.on("pageerror", lambda exc, problems=problems: problems.append(f"JS error: {exc}"))
        page.on("response", lambda r, problems=problems: r.status >= 500 and problems.append(f"{r.status} {r.url}"))
        log_in(page, owner.email)
        assert page.get_by_test_id("overview-figures").is_visible()
        page.screenshot(path=screenshot_dir / f"analytics-overview-{name}-zh-hans.png", full_page=True)
        page.locator("nav.sidebar").get_by_role("link", name="数据分析").click()
        assert urlsplit(page.url).path == f"/dashboard/{shop.slug}/analytics/"
        for url_name, tab in PAGES:
            if url_name != "analytics":
                page.get_by_test_id("analytics-tabs").get_by_role("link", name=tab, exact=True).click()
            assert page.locator("svg.chart").first.is_visible()
            page.screenshot(path=screenshot_dir / f"{url_name}-{name}-zh-hans.png", full_page=True)
        assert problems == []
    english = new_page(viewport=WIDE, locale="en-US")
    log_in(english, owner.email, next_path=f"/dashboard/{shop.slug}/analytics/sales/?range=90")
    assert english.get_by_test_id("figures").is_visible()
    english.screenshot(path=screenshot_dir / "analytics_sales-1366-en.png", full_page=True)
    english.goto(f"/dashboard/{shop.slug}/")
    english.screenshot(path=screenshot_dir / "analytics-overview-1366-en.png", full_page=True)
