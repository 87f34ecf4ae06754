"""The points rules page in a real browser: the owner opens it from the navigation, changes the earning rate, saves
and sees the success message and the new rate in words. Screenshots land in $TEST_OUTPUT_DIR (default
test-output/screenshots)."""

from urllib.parse import urlsplit

import pytest

from points.models import PointsProgram

from .conftest import DESKTOP, PHONE, chromium_missing_reason, log_in

_reason = chromium_missing_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402  (after the skip: Playwright may be absent)

pytestmark = pytest.mark.browser


def test_the_owner_changes_the_earning_rate(new_page, shop, owner, screenshot_dir):
    page = new_page(viewport=DESKTOP, locale="en-US")
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))
    page.on("response", lambda r: r.status >= 500 and problems.append(f"{r.status} {r.url}"))
    log_in(page, owner.email)

    # The navigation's "Points" leads to the rules page.
    page.locator("nav.sidebar").get_by_role("link", name="Points").click()
    rules = f"/dashboard/{shop.slug}/points/"
    assert urlsplit(page.url).path == rules
    expect(page.get_by_test_id("rate-sentence")).to_contain_text("Members earn 1 points for each CNY 1 paid")

    # Change the rate, save, see the message and the new rate in words.
    page.fill("input[name=points_per_unit]", "2")
    with page.expect_navigation():
        page.get_by_test_id("program-form").locator("button[type=submit]").click()
    assert urlsplit(page.url).path == rules
    expect(page.locator(".message.success")).to_have_text("Points rules saved.")
    expect(page.get_by_test_id("rate-sentence")).to_contain_text("an order of CNY 100.00 earns 200 points")
    expect(page.locator("input[name=points_per_unit]")).to_have_value("2.00")
    page.screenshot(path=screenshot_dir / "points-rules-saved.png", full_page=True)
    assert PointsProgram.objects.get(shop=shop).points_per_unit == 2

    # The page holds together on a phone.
    phone = new_page(viewport=PHONE)
    log_in(phone, owner.email, next_path=rules)
    width = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    phone.screenshot(path=screenshot_dir / "points-rules-phone-zh-hans.png", full_page=True)
    assert problems == []
