"""The merchant's dashboard in a real browser: the owner journey, tenant isolation, the phone layout, the offline
API docs and the admin login. Screenshots land in $TEST_OUTPUT_DIR (default test-output/screenshots)."""

from urllib.parse import urlsplit

import pytest
import requests

from tests.factories import make_api_key

from .conftest import DESKTOP, PHONE, chromium_missing_reason, log_in

_reason = chromium_missing_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402  (after the skip: Playwright may be absent)

pytestmark = pytest.mark.browser

API_SHOP = "/api/v1/shop/"


def call_api(live_server, secret: str) -> requests.Response:
    return requests.get(live_server.url + API_SHOP, headers={"Authorization": f"Bearer {secret}"}, timeout=10)


def no_horizontal_scroll(page) -> dict:
    return page.evaluate("() => ({scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth})")


def watch_for_breakage(page) -> list:
    """Collects JavaScript errors and server errors (5xx) the page meets."""
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))
    page.on("response", lambda r: r.status >= 500 and problems.append(f"{r.status} {r.url}"))
    return problems


def test_owner_journey(new_page, live_server, shop, owner, screenshot_dir):
    page = new_page(viewport=DESKTOP)
    problems = watch_for_breakage(page)
    base = f"/dashboard/{shop.slug}/"

    # Log in and land on the shop's dashboard (one shop: straight in).
    log_in(page, owner.email)
    assert urlsplit(page.url).path == base
    expect(page.get_by_test_id("shop-name")).to_have_text("甲店")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.screenshot(path=screenshot_dir / "dashboard-home-zh-hans.png", full_page=True)

    # Switch to English and back; the switch returns to the same page.
    page.click('button[name="language"][value="en"]')
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert urlsplit(page.url).path == base
    expect(page.locator("nav.sidebar")).to_contain_text("Members")
    expect(page.locator('button[name="language"][value="en"]')).to_have_attribute("aria-current", "true")
    page.screenshot(path=screenshot_dir / "dashboard-home-en.png", full_page=True)
    page.click('button[name="language"][value="zh-hans"]')
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator('button[name="language"][value="zh-hans"]')).to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("shop-name")).to_have_text("甲店")

    # Create an API key: its secret is shown once.
    page.goto(base + "api-keys/")
    page.fill("input[name=name]", "POS")
    page.click("form:has(input[name=name]) button[type=submit]")
    new_key = page.get_by_test_id("new-key")
    expect(new_key).to_be_visible()
    expect(new_key).to_contain_text("POS")
    secret = new_key.locator("code").inner_text().strip()
    assert secret.startswith("hy_"), secret
    page.screenshot(path=screenshot_dir / "api-keys-new-key.png", full_page=True)

    page.reload()
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    assert secret not in page.content()
    row = page.locator("tbody tr", has_text="POS")
    expect(row).to_have_count(1)

    # The key works...
    response = call_api(live_server, secret)
    assert response.status_code == 200, response.text
    assert response.json()["slug"] == shop.slug

    # ...until it is revoked (after a confirm dialog), then the API answers 401 in its error format.
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    with page.expect_navigation():
        row.locator("button.danger").click()
    assert len(dialogs) == 1 and dialogs[0]
    expect(page.locator(".message.success")).to_have_count(1)
    expect(page.locator("tbody tr", has_text="POS").locator("button.danger")).to_have_count(0)

    response = call_api(live_server, secret)
    assert response.status_code == 401, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["code"]

    # Invite a clerk.
    page.goto(base + "staff/")
    page.fill("input[name=email]", "clerk@shop-a.example")
    page.select_option("form:has(input[name=email]) select[name=role]", "clerk")
    with page.expect_navigation():
        page.click("form:has(input[name=email]) button[type=submit]")
    expect(page.locator(".message.success")).to_contain_text("clerk@shop-a.example")
    expect(page.locator("tr", has_text="clerk@shop-a.example")).to_have_count(1)

    # The audit log has all three.
    response = page.goto(base + "audit/")
    assert response.status == 200, response.status
    cells = page.locator("tbody td[data-action]")
    expect(cells.first).to_be_visible()
    actions = [cells.nth(i).get_attribute("data-action") for i in range(cells.count())]
    for action in ("apikey.create", "apikey.revoke", "staff.invite"):
        assert action in actions, actions
    page.screenshot(path=screenshot_dir / "audit-log.png", full_page=True)

    assert problems == []


def test_login_page_without_next_lands_on_dashboard(new_page, shop, owner):
    """Signing in straight from /accounts/login/ (a bookmark, the logout redirect) must land on the dashboard."""
    page = new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", owner.email)
    page.fill("input[name=password]", "correct-horse-battery")
    with page.expect_navigation() as navigation:
        page.click("form.card button[type=submit]")
    assert navigation.value.status == 200
    expect(page.get_by_test_id("shop-name")).to_have_text("甲店")


def test_other_shops_dashboard_is_not_found(new_page, shop, owner, other_shop):
    page = new_page()
    log_in(page, owner.email)
    expect(page.get_by_test_id("shop-name")).to_have_text("甲店")

    for slug in (other_shop.slug, "no-such-shop"):  # another shop and no shop look the same
        response = page.goto(f"/dashboard/{slug}/")
        assert response.status == 404, slug
        expect(page.locator("h1")).to_be_visible()
        expect(page.get_by_test_id("shop-name")).to_have_count(0)
        assert other_shop.name not in page.content()
    for path in ("staff/", "api-keys/", "audit/"):
        assert page.goto(f"/dashboard/{other_shop.slug}/{path}").status == 404, path


def test_phone_layout_has_no_horizontal_scroll(new_page, shop, owner, screenshot_dir):
    make_api_key(shop, name="Online store with a rather long name")
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    log_in(page, owner.email)
    expect(page.get_by_test_id("shop-name")).to_have_text("甲店")

    base = f"/dashboard/{shop.slug}/"
    for path, shot in (
        ("", "phone-dashboard-home.png"),
        ("api-keys/", "phone-api-keys.png"),
        ("staff/", "phone-staff.png"),
        ("audit/", "phone-audit.png"),
    ):
        page.goto(base + path)
        sizes = no_horizontal_scroll(page)
        page.screenshot(path=screenshot_dir / shot, full_page=True)
        assert sizes["innerWidth"] == PHONE["width"], (path, sizes)  # not zoomed out to fit something too wide
        assert sizes["scrollWidth"] <= sizes["innerWidth"], (path, sizes)


def test_api_docs_load_from_our_host_only(new_page, live_server, live_host, screenshot_dir):
    page = new_page(viewport=DESKTOP)
    problems = watch_for_breakage(page)
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    # Anything for another host is cut off, so a CDN dependency fails fast instead of waiting on the network.
    page.route(
        "**/*",
        lambda route: route.continue_() if urlsplit(route.request.url).netloc == live_host else route.abort(),
    )

    response = page.goto("/api/v1/docs/")
    assert response.status == 200
    expect(page.locator(".swagger-ui")).to_be_visible()
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    expect(page.locator(".swagger-ui")).to_contain_text("/api/v1/shop/")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=screenshot_dir / "api-docs.png", full_page=True)

    network = [url for url in requested if urlsplit(url).scheme not in ("data", "blob")]
    assert network, requested
    elsewhere = [url for url in network if urlsplit(url).netloc != live_host or urlsplit(url).scheme != "http"]
    assert elsewhere == [], elsewhere
    assert problems == []


def test_admin_login_page_loads(new_page):
    page = new_page()
    failed = []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    response = page.goto("/admin/login/")
    assert response.status == 200
    expect(page.locator("input[name=username]")).to_be_visible()
    expect(page.locator("input[name=password]")).to_be_visible()
    assert failed == []  # its stylesheets and scripts too
