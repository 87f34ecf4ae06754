"""The Content-Security-Policy in a real browser: it is enforced (an injected inline script and style attribute are
refused, and the watch of conftest.py reports them), and every dashboard page, the shopper pages and the API docs
work under it. Every browser test fails on a violation (conftest.py); these visit what the others do not: every
dashboard page that answers GET, found by walking the URL configuration as tests/test_isolation.py does."""

import datetime
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.urls import reverse
from django.utils import timezone

from orders.services import OrderInput, order_record
from recruitment.models import Channel
from shops.services import SYSTEM, shop_update
from shops.tenancy import shop_scope
from shops.time import local_today
from tests.coupons.helpers import make_template
from tests.isolation_cases import CASES
from tests.portal.helpers import make_member
from tests.recruitment.helpers import make_channel
from tests.routes import tenant_routes

from .conftest import PHONE, chromium_missing_reason, log_in

_reason = chromium_missing_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402  (after the skip: Playwright may be absent)

pytestmark = pytest.mark.browser

BRAND = "#1f6feb"  # not the stylesheet's default: seen only if the page's nonced <style> was applied
SCREENSHOTS = {
    "dashboard:channel": "csp-channel-detail.png",
    "dashboard:imports": "csp-imports.png",
    "dashboard:audit": "csp-audit.png",
    "dashboard:coupon_grant": "csp-grant-detail.png",
}


def brand_of(page) -> str:
    return page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--brand').trim().toLowerCase()")


def dashboard_pages(shop) -> list[tuple[str, str]]:
    """(route name, URL) of every dashboard page of `shop` that answers GET, with an object made for each that
    needs one (tests/isolation_cases.py)."""
    made, pages = {}, []
    for route in tenant_routes():
        if not route.name.startswith("dashboard:") or "shop_slug" not in route.params or "get" not in route.methods:
            continue
        kwargs = {"shop_slug": shop.slug}
        if route.object_params:
            make = CASES[route.name].make
            if make not in made:
                made[make] = make(shop)
            kwargs.update({name: value for name, value in made[make].items() if name in route.params})
        pages.append((route.name, reverse(route.name, kwargs=kwargs)))
    return pages


def test_the_policy_refuses_an_inline_script_and_style_and_the_watch_reports_them(new_page, csp_violations):
    page = new_page()
    page.goto("/accounts/login/")

    # when: content injected into the page (as an XSS would) tries an inline script and an inline style
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.head.append(script);
        document.body.setAttribute("style", "background: rgb(255, 0, 0)");
    }""")

    # then: neither took effect, and both were reported
    assert page.evaluate("window.injected === undefined")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(255, 0, 0)"
    page.evaluate("0")  # let the reports arrive
    reported = "\n".join(csp_violations)
    assert "script-src-elem refused inline" in reported, reported
    assert "style-src-attr refused inline" in reported, reported
    csp_violations.clear()  # provoked on purpose


def test_every_dashboard_page_works_under_the_policy(new_page, shop, owner, screenshot_dir):
    # given: the shop in its own colour, and the object of every page that shows one
    with shop_scope(shop):
        shop_update(shop=shop, actor=SYSTEM, colour=BRAND.upper())
        pages = dashboard_pages(shop)
        for channel in Channel.objects.filter(shop=shop):  # figures for its daily bars (SVG)
            today = local_today(shop)
            for back, visits, joins in ((0, 12, 3), (1, 40, 6), (3, 25, 1)):
                channel.days.create(shop=shop, day=today - datetime.timedelta(days=back), visits=visits, joins=joins)
    page = new_page()
    log_in(page, owner.email)

    visited = []
    for name, url in pages:
        answer = page.request.get(url)
        assert answer.status == 200, (name, url, answer.status)
        if not answer.headers["content-type"].startswith("text/html"):
            continue  # a QR code, a poster, a CSV: not a page
        # when
        response = page.goto(url)
        page.wait_for_load_state("load")
        # then: the page, its stylesheets and its nonced <style> (the brand colour) are all there
        assert response.status == 200, (name, url)
        assert "default-src 'self'" in response.headers["content-security-policy"], name
        assert brand_of(page) == BRAND, (name, url)
        expect(page.locator("nav.sidebar")).to_be_visible()
        if name in SCREENSHOTS:
            page.screenshot(path=screenshot_dir / SCREENSHOTS[name], full_page=True)
        visited.append(name)
    assert len(visited) >= 40, visited
    assert {"dashboard:channel", "dashboard:imports", "dashboard:audit", "dashboard:api_keys"} <= set(visited)


def test_the_page_scripts_work_without_inline_code(new_page, shop, owner):
    """onsubmit/onchange attributes and inline scripts are refused by the policy: static/js/dashboard.js and
    static/js/reload.js do their work."""
    with shop_scope(shop):
        grant = CASES["dashboard:coupon_grant"].make(shop)
    page = new_page()
    log_in(page, owner.email)

    # the page of a running grant reloads by itself to show its progress
    page.goto(reverse("dashboard:coupon_grant", args=[shop.slug, grant["pk"]]))
    with page.expect_navigation(timeout=10_000):
        pass
    page.goto(f"/dashboard/{shop.slug}/audit/")

    # the action filter submits itself when changed
    with page.expect_navigation():
        page.select_option("select[name=action]", index=1)
    assert "action=" in urlsplit(page.url).query

    # a confirm answered No posts nothing
    page.goto(f"/dashboard/{shop.slug}/api-keys/")
    page.fill("input[name=name]", "POS")
    with page.expect_navigation():
        page.click("form:has(input[name=name]) button[type=submit]")
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.locator("tbody tr", has_text="POS").locator("button.danger").click()
    assert dialogs and dialogs[0]
    expect(page.locator("tbody tr", has_text="POS").locator("button.danger")).to_have_count(1)


def test_the_shopper_pages_work_under_the_policy(new_page, shop, live_server, screenshot_dir):
    # given: a shop in its own colour, a channel, and a member signed in to the shop
    with shop_scope(shop):
        shop_update(shop=shop, actor=SYSTEM, colour=BRAND.upper())
        channel = make_channel(shop, headline="扫码入会", welcome_coupon_ids=[make_template(shop).pk])
        member = make_member(shop, name="韩梅梅")
        paid = OrderInput(external_id="CSP-1", member_id=member.pk, amount=Decimal("200.00"), paid_at=timezone.now())
        order_record(shop=shop, data=paid)  # part of the way to the next tier: the centre's bar (SVG) is drawn
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)

    # the landing page twice: the second answer comes from the cache of shared pages, with its own nonce
    nonces = []
    for _ in range(2):
        response = page.goto(f"/j/{channel.code}/")
        assert response.status == 200
        assert brand_of(page) == BRAND
        nonces.append(page.locator("style[nonce]").evaluate("style => style.nonce"))  # the attribute reads empty
    assert nonces[0] and nonces[1] and nonces[0] != nonces[1]
    assert page.goto(f"/m/{shop.slug}/login/").status == 200
    assert brand_of(page) == BRAND

    session = SessionStore()
    session[f"portal:{shop.pk}"] = member.pk
    session.create()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": live_server.url}]
    )
    for path in ("me/", "me/coupons/", "me/mall/", "me/invite/", "me/profile/", "me/privacy/"):
        response = page.goto(f"/m/{shop.slug}/{path}")
        assert response.status == 200, path
        assert brand_of(page) == BRAND, path
        if path == "me/":
            expect(page.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "40")
            page.screenshot(path=screenshot_dir / "csp-portal-centre-phone.png", full_page=True)

    # the invitation link selects itself when tapped (portal.js; it was an onclick attribute)
    page.goto(f"/m/{shop.slug}/me/invite/")
    field = page.get_by_test_id("invite-url")
    field.tap()
    start, end, length = field.evaluate("field => [field.selectionStart, field.selectionEnd, field.value.length]")
    assert (start, end) == (0, length) and length > 0


def test_the_api_docs_work_under_the_policy(new_page, screenshot_dir):
    page = new_page()
    response = page.goto("/api/v1/docs/")
    assert "script-src 'self';" in response.headers["content-security-policy"]

    # an operation opens, and "Try it out" sends its request (fetch, to our host) and shows the answer
    operation = page.locator(".opblock", has_text="/api/v1/shop/").first
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".responses-wrapper .live-responses-table")).to_contain_text("401")
    page.screenshot(path=screenshot_dir / "csp-api-docs-try-it-out.png", full_page=True)
