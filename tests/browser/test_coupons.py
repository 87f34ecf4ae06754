"""The coupon editor in a real browser, in zh-Hans (a merchant's browser in China): the owner opens it from the
navigation, types a value and a minimum spend and watches the preview card follow (drawn by static/coupons/
preview.js, which must say what the server's coupon_card says), switches the kind, saves, and finds the coupon in
the list. Screenshots land in $TEST_OUTPUT_DIR (default test-output/screenshots)."""

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.utils import translation

from coupons.models import CouponTemplate
from coupons.views.words import coupon_card, value_in_words

from .conftest import PHONE, chromium_missing_reason, log_in

_reason = chromium_missing_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402  (after the skip: Playwright may be absent)

pytestmark = pytest.mark.browser


def server_card(shop, **fields) -> dict:
    """What the server's card says for these fields, in Chinese."""
    template = CouponTemplate(shop=shop, **{"valid_days": 30, **fields})
    with translation.override("zh-hans"):
        return coupon_card(shop=shop, template=template)


def expect_card(page, card: dict):
    for part in ("big", "condition", "name", "validity", "scope"):
        expect(page.get_by_test_id(f"coupon-{part}")).to_have_text(card[part])


def test_the_owner_writes_a_coupon_with_the_live_preview_and_saves_it(new_page, shop, owner, screenshot_dir):
    page = new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))
    page.on("response", lambda r: r.status >= 500 and problems.append(f"{r.status} {r.url}"))
    log_in(page, owner.email)

    # The navigation's "优惠券" leads to the coupon list, in Chinese; its button to the editor.
    page.locator("nav.sidebar").get_by_role("link", name="优惠券").click()
    listing = f"/dashboard/{shop.slug}/coupons/"
    assert urlsplit(page.url).path == listing
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    with page.expect_navigation():
        page.get_by_test_id("new-template").click()
    assert urlsplit(page.url).path == f"/dashboard/{shop.slug}/coupons/templates/new/"

    # The card starts as the server drew it: an amount-off coupon valid 30 days, no name yet.
    expect_card(page, server_card(shop, kind="amount_off", value=Decimal(0)))
    expect(page.locator("[name=max_discount]")).to_be_hidden()

    # Typing a value and a minimum spend: the card follows at once, as the server would draw it.
    page.fill("[name=name]", "满200减30")
    page.fill("[name=value]", "30")
    page.fill("[name=min_spend]", "200")
    amount_off = server_card(shop, name="满200减30", kind="amount_off", value=Decimal(30), min_spend=Decimal(200))
    expect_card(page, amount_off)
    expect(page.get_by_test_id("coupon-big")).to_have_text("¥30")
    assert "200" in amount_off["condition"]

    # A percent-off coupon with a cap: the percentage field's meaning, the cap field appears.
    page.select_option("[name=kind]", "percent_off")
    expect(page.locator("[name=max_discount]")).to_be_visible()
    page.fill("[name=value]", "15")
    page.fill("[name=max_discount]", "50")
    expect_card(
        page,
        server_card(
            shop,
            name="满200减30",
            kind="percent_off",
            value=Decimal(15),
            min_spend=Decimal(200),
            max_discount=Decimal(50),
        ),
    )
    page.screenshot(path=screenshot_dir / "coupon-editor-percent-zh-hans.png", full_page=True)

    # Back to amount off, limited to two categories, then save.
    page.select_option("[name=kind]", "amount_off")
    page.fill("[name=value]", "30")
    page.select_option("[name=scope]", "categories")
    page.fill("[name=scope_values]", "咖啡，茶")
    expect_card(
        page,
        server_card(
            shop,
            name="满200减30",
            kind="amount_off",
            value=Decimal(30),
            min_spend=Decimal(200),
            scope="categories",
            scope_values=["咖啡", "茶"],
        ),
    )
    with page.expect_navigation():
        page.get_by_test_id("save-template").click()

    template = CouponTemplate.objects.get(shop=shop)
    assert (template.kind, template.value, template.min_spend, template.max_discount, template.scope_values) == (
        "amount_off",
        Decimal(30),
        Decimal(200),
        None,
        ["咖啡", "茶"],
    )
    assert urlsplit(page.url).path == f"/dashboard/{shop.slug}/coupons/templates/{template.pk}/"
    expect(page.locator(".message.success")).to_contain_text("满200减30")
    expect(page.get_by_test_id("coupon-big")).to_have_text("¥30")

    # The list shows it, with its offer in words.
    page.goto(listing)
    row = page.get_by_test_id("template-row")
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_have_text("满200减30")
    with translation.override("zh-hans"):
        words = value_in_words(shop=shop, template=template)
    expect(row.get_by_test_id("template-offer")).to_have_text(words)
    page.screenshot(path=screenshot_dir / "coupon-list-zh-hans.png", full_page=True)

    # The editor holds together on a phone: the preview above the form, nothing wider than the screen.
    phone = new_page(viewport=PHONE)
    log_in(phone, owner.email, next_path=f"/dashboard/{shop.slug}/coupons/templates/{template.pk}/edit/")
    expect(phone.get_by_test_id("coupon-big")).to_have_text("¥30")
    width = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    phone.screenshot(path=screenshot_dir / "coupon-editor-phone-zh-hans.png", full_page=True)
    assert problems == []
