"""The tier editor in a real browser, in zh-Hans (a merchant's browser in China): the owner opens it from the
navigation, lowers a threshold, previews (the counts of members moving up and down, nothing saved), applies, and
sees the new ladder and the members per tier. Screenshots land in $TEST_OUTPUT_DIR (default test-output/screenshots).
"""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from tests.tiers.helpers import buy, enrol, rank_of
from tiers.models import Tier

from .conftest import PHONE, chromium_missing_reason, log_in

_reason = chromium_missing_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402  (after the skip: Playwright may be absent)

pytestmark = pytest.mark.browser


def test_the_owner_lowers_a_threshold_previews_and_applies(new_page, shop, owner, screenshot_dir):
    # given: one member below 高级会员's 500, one in it
    small, silver = enrol(shop, "小额"), enrol(shop, "白银")
    buy(shop, small, 400, timezone.now() - timedelta(days=3))
    buy(shop, silver, 600, timezone.now() - timedelta(days=3))
    page = new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))
    page.on("response", lambda r: r.status >= 500 and problems.append(f"{r.status} {r.url}"))
    log_in(page, owner.email)

    # The navigation's "会员等级" leads to the tiers page, in Chinese.
    page.locator("nav.sidebar").get_by_role("link", name="会员等级").click()
    tiers = f"/dashboard/{shop.slug}/tiers/"
    assert urlsplit(page.url).path == tiers
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("h1")).to_have_text("会员等级")
    expect(page.get_by_test_id("tier-distribution")).to_contain_text("各等级会员")
    expect(page.get_by_test_id("ladder")).to_contain_text("消费金额门槛")

    # Lower 高级会员's spend threshold to 300 and preview: one member moves up, nothing is saved yet.
    page.fill("input[name=form-1-min_spend]", "300")
    with page.expect_navigation():
        page.get_by_test_id("preview-button").click()
    preview = page.get_by_test_id("tier-preview")
    expect(preview).to_contain_text("预览")
    expect(page.get_by_test_id("preview-up")).to_have_text("1")
    expect(page.get_by_test_id("preview-down")).to_have_text("0")
    expect(page.get_by_test_id("points-before")).to_have_text("1000")
    expect(preview).to_contain_text("积分负债")
    expect(page.locator("input[name=form-1-min_spend]")).to_have_value("300")  # the edit is kept
    page.screenshot(path=screenshot_dir / "tiers-preview-zh-hans.png", full_page=True)
    assert Tier.objects.get(shop=shop, rank=1).min_spend == Decimal(500)

    # Apply now: the message, the ladder and the distribution follow.
    with page.expect_navigation():
        page.get_by_test_id("apply-button").click()
    assert urlsplit(page.url).path == tiers
    expect(page.locator(".message.success")).to_have_text(
        "等级规则已生效。被移除等级的会员调整 0 人；评估升级 1 人，降级 0 人。"
    )
    expect(page.locator("input[name=form-1-min_spend]")).to_have_value("300.00")
    silver_row = page.get_by_test_id("tier-distribution").locator("tbody tr").nth(1)
    expect(silver_row.locator("td")).to_have_text(["高级会员", "2", "100.0%"])
    expect(page.get_by_test_id("tier-evaluations")).to_contain_text("全部会员")
    assert Tier.objects.get(shop=shop, rank=1).min_spend == Decimal(300)
    assert rank_of(small) == 1
    page.screenshot(path=screenshot_dir / "tiers-applied-zh-hans.png", full_page=True)

    # The page holds together on a phone: the editor's table scrolls inside its frame.
    phone = new_page(viewport=PHONE)
    log_in(phone, owner.email, next_path=tiers)
    width = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    phone.screenshot(path=screenshot_dir / "tiers-phone-zh-hans.png", full_page=True)
    assert problems == []
