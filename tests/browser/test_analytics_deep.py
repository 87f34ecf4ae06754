"""The cohorts and RFM pages in a real browser, in zh-Hans, at 1366 and 390 pixels: a year of joins with orders that
thin out month by month, scored and computed as the nightly pass does, then read by the owner, who makes a segment
of an RFM group and lands in the campaign editor with it chosen. Screenshots land in $TEST_OUTPUT_DIR (default
test-output/screenshots)."""

import datetime
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.deep import deep_views_compute
from members.models import Segment
from orders.services import ItemInput, OrderInput, orders_record
from shops.time import local_today, shop_zone
from tests.factories import MemberFactory

from .conftest import PHONE, chromium_missing_reason, log_in

_reason = chromium_missing_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402  (after the skip: Playwright may be absent)

pytestmark = pytest.mark.browser

WIDE = {"width": 1366, "height": 900}
# The elements that stick out of the viewport (a page that scrolls sideways reads badly on a phone).
WIDER_THAN_VIEWPORT = """[...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                 && !e.closest(".table-wrap"))
  .map((e) => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))"""
SCROLLS_SIDEWAYS = "document.documentElement.scrollWidth > document.documentElement.clientWidth"
CATEGORIES = {"茶叶": ["t1", "t2"], "茶具": ["c1"], "点心": ["s1", "s2"]}


@pytest.fixture
def history(shop):
    rng = random.Random(20)
    zone = shop_zone(shop)
    now = timezone.now()
    today = local_today(shop, now)
    orders, n = [], 0
    for months_ago in range(12, -1, -1):
        year, month = divmod(today.year * 12 + today.month - 1 - months_ago, 12)
        joined_on = datetime.datetime(year, month + 1, 3, 10, tzinfo=zone)
        for _ in range(rng.randint(6, 14)):
            member = MemberFactory(shop=shop, joined_at=joined_on)
            for since in range(months_ago + 1):
                if rng.random() < (0.8 if since == 0 else 0.45 / (1 + since * 0.3)):
                    y, m = divmod(year * 12 + month + since, 12)
                    paid_at = datetime.datetime(y, m + 1, rng.randint(4, 27), 15, tzinfo=zone)
                    if paid_at >= now:
                        continue
                    category = rng.choice(list(CATEGORIES))
                    items = [ItemInput(sku=rng.choice(CATEGORIES[category]), quantity=1, unit_price=Decimal("20"),
                                       category=category)]  # fmt: skip
                    if rng.random() < 0.5:
                        items.append(ItemInput(sku="c1", quantity=1, unit_price=Decimal("60"), category="茶具"))
                    n += 1
                    orders.append(OrderInput(
                        external_id=f"H{n}", amount=Decimal(rng.choice([59, 128, 268, 520, 1280])), paid_at=paid_at,
                        member_id=member.pk, items=tuple(items),
                    ))  # fmt: skip
    orders_record(shop=shop, orders=orders)
    deep_views_compute(shop=shop, now=now)


def test_cohorts_and_rfm_pages_read_at_a_glance(new_page, shop, owner, history, screenshot_dir):
    for name, viewport in (("1366", WIDE), ("390", PHONE)):
        page = new_page(viewport=viewport)
        log_in(page, owner.email, next_path=f"/dashboard/{shop.slug}/analytics/cohorts/")
        expect(page.locator("h1")).to_have_text("同期群")
        expect(page.get_by_test_id("cohort-row").first).to_be_visible()
        page.screenshot(path=screenshot_dir / f"analytics-cohorts-zh-{name}.png", full_page=True)

        page.goto(f"/dashboard/{shop.slug}/analytics/rfm/?cell=R5F5#rfm-cell")
        expect(page.get_by_test_id("rfm-cell")).to_have_count(25)
        expect(page.get_by_test_id("rfm-group")).to_have_count(8)
        expect(page.get_by_test_id("rfm-groups")).to_contain_text("重要价值客户")
        page.screenshot(path=screenshot_dir / f"analytics-rfm-zh-{name}.png", full_page=True)
        wide = page.evaluate(WIDER_THAN_VIEWPORT)
        assert wide == [] and page.evaluate(SCROLLS_SIDEWAYS) is False, wide

        page.goto(f"/dashboard/{shop.slug}/analytics/pairs/")
        expect(page.get_by_test_id("pair-row").first).to_be_visible()
        page.screenshot(path=screenshot_dir / f"analytics-pairs-zh-{name}.png", full_page=True)

    # One click from a group to the campaign editor with its segment chosen.
    page.goto(f"/dashboard/{shop.slug}/analytics/rfm/")
    page.locator('[data-group="important_value"]').get_by_test_id("group-campaign").click()
    segment = Segment.objects.get(shop=shop, definition={"rfm_groups": ["important_value"]})
    expect(page.locator("select[name=segment]")).to_have_value(str(segment.pk))
