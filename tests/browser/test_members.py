"""The members and orders pages in a real browser, on a desktop and on a phone: find a member by phone (the number
never reaches the address bar), open the profile, see the order on the timeline, reveal the number, and count a
segment live. Screenshots land in $TEST_OUTPUT_DIR (default test-output/screenshots)."""

import datetime
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from members.services import Enrolment, member_enroll
from members.tags import tag_apply, tag_create
from orders.services import ItemInput, OrderInput, RefundInput, order_record, refund_record
from shops.models import AuditLogEntry
from shops.services import SYSTEM

from .conftest import DESKTOP, PHONE, chromium_missing_reason, log_in

_reason = chromium_missing_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402  (after the skip: Playwright may be absent)

pytestmark = pytest.mark.browser

NUMBER = "13800138000"


@pytest.fixture
def shopper(shop):
    """A member with a tagged profile, two orders (one partly refunded) and some neighbours on the list."""
    member, _ = member_enroll(
        shop=shop,
        data=Enrolment(
            phone=NUMBER,
            name="王小明",
            gender="male",
            birthday_month=6,
            birthday_day=18,
            region="浙江省 杭州市 西湖区",
            email="xiaoming.wang@example.com",
            external_id="tb_9981234567",
            channel="store-qr",
            consents={"sms": True},
        ),
    )
    now = timezone.now()
    order_record(
        shop=shop,
        data=OrderInput(
            external_id="TB20260301-0001",
            member_id=member.pk,
            amount=Decimal("368.00"),
            paid_at=now - datetime.timedelta(days=20),
            items=(ItemInput(sku="LJ-250", quantity=2, unit_price=Decimal("184.00"), name="明前龙井 250g"),),
        ),
    )
    order = order_record(
        shop=shop,
        data=OrderInput(
            external_id="TB20260320-0042",
            member_id=member.pk,
            amount=Decimal("1299.00"),
            paid_at=now - datetime.timedelta(days=2),
        ),
    ).order
    refund_record(shop=shop, order=order, data=RefundInput(external_id="RF-42", amount=Decimal("99.00")))
    tag = tag_create(shop=shop, actor=SYSTEM, name="老客户")
    tag_apply(shop=shop, tag=tag, actor=SYSTEM, definition={"q": NUMBER})
    tag_create(shop=shop, actor=SYSTEM, name="高消费", rule={"spend_min": "1000"})
    for i, name in enumerate(["李娜", "张伟", "刘洋", "陈静"]):
        member_enroll(shop=shop, data=Enrolment(phone=f"1390013{i:04d}", name=name, region="上海市"))
    return member


def no_horizontal_scroll(page) -> dict:
    return page.evaluate("() => ({scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth})")


def watch_for_breakage(page) -> list:
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))
    page.on("response", lambda r: r.status >= 500 and problems.append(f"{r.status} {r.url}"))
    return problems


@pytest.mark.parametrize(
    ("device", "options"),
    [("desktop", {"viewport": DESKTOP}), ("phone", {"viewport": PHONE, "is_mobile": True, "has_touch": True})],
)
def test_find_a_member_by_phone_and_read_the_profile_and_timeline(
    new_page, shop, owner, shopper, screenshot_dir, device, options
):
    page = new_page(**options)
    problems = watch_for_breakage(page)
    addresses = []
    page.on("request", lambda request: addresses.append(request.url))
    log_in(page, owner.email)

    # The menu leads to the member list.
    page.locator(f"nav.sidebar a[href='/dashboard/{shop.slug}/members/']").click()
    expect(page.locator("table.members tbody tr")).to_have_count(5)

    # Search by the number as a person types it.
    page.fill("input[name=q]", "138 0013 8000")
    with page.expect_navigation():
        page.locator("[data-testid=member-search] .search-row button[type=submit]").click()
    assert list(urlsplit(page.url).query.split("=", 1))[0] == "f", page.url
    rows = page.locator("table.members tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("王小明")
    expect(rows.first.locator(".phone")).to_have_text("138****8000")
    assert no_horizontal_scroll(page)["scrollWidth"] <= no_horizontal_scroll(page)["innerWidth"]
    page.screenshot(path=screenshot_dir / f"members-search-{device}.png", full_page=True)

    # The profile: figures, tags, consent and one timeline with the orders and the refund.
    with page.expect_navigation():
        rows.first.locator("a", has_text="王小明").click()
    expect(page.get_by_test_id("member-card")).to_contain_text("138****8000")
    expect(page.get_by_test_id("member-figures")).to_contain_text(re.compile(r"1,?568\.00"))  # 368 + 1299 - 99
    expect(page.get_by_test_id("member-tags")).to_contain_text("老客户")
    timeline = page.get_by_test_id("member-timeline")
    expect(timeline.locator("li.kind-order")).to_have_count(2)
    expect(timeline.locator("li.kind-order").first).to_contain_text("TB20260320-0042")
    expect(timeline.locator("li.kind-refund")).to_have_count(1)
    sizes = no_horizontal_scroll(page)
    assert sizes["scrollWidth"] <= sizes["innerWidth"], sizes
    page.screenshot(path=screenshot_dir / f"member-profile-{device}.png", full_page=True)

    # Reveal the number in place (JavaScript), which is audited.
    page.locator("[data-testid=member-card] form[data-reveal] button").click()
    expect(page.locator("#member-phone")).to_have_text("138 0013 8000")
    assert AuditLogEntry.objects.filter(shop=shop, action="member.phone_view", object_id=str(shopper.pk)).count() == 1

    # The timeline links to the order.
    with page.expect_navigation():
        timeline.locator("a", has_text="TB20260301-0001").click()
    expect(page.get_by_test_id("order-card")).to_contain_text("368.00")
    expect(page.locator("table").first).to_contain_text("明前龙井 250g")
    page.screenshot(path=screenshot_dir / f"order-detail-{device}.png", full_page=True)

    for address in addresses:
        for fragment in (NUMBER, "8613800138000", "138%2000", "138+0013"):
            assert fragment not in address, address
    assert problems == []


def test_segment_count_updates_live_and_reports_a_bad_filter(new_page, shop, owner, shopper, screenshot_dir):
    page = new_page(viewport=DESKTOP)
    problems = watch_for_breakage(page)
    log_in(page, owner.email)
    page.goto(f"/dashboard/{shop.slug}/members/segments/new/")
    count = page.locator("#count-preview")
    expect(count).to_contain_text("5")  # everyone, before any condition
    page.fill("input[name=regions]", "上海")
    expect(count).to_contain_text("4")
    page.fill("input[name=spend_min]", "1000")
    expect(count).to_contain_text("0")
    page.fill("input[name=regions]", "")
    expect(count).to_contain_text("1")
    page.fill("input[name=name]", "千元客户")
    page.screenshot(path=screenshot_dir / "segment-form.png", full_page=True)
    with page.expect_navigation():
        page.locator("form[data-count-url] button[type=submit]").click()
    expect(page.locator("tbody tr", has_text="千元客户")).to_contain_text("1")
    page.screenshot(path=screenshot_dir / "segments.png", full_page=True)

    # The member list with its filters open, the tags page and the orders list, on a phone too.
    page.goto(f"/dashboard/{shop.slug}/members/?regions=上海&sort=name")
    expect(page.locator("table.members tbody tr")).to_have_count(4)
    page.screenshot(path=screenshot_dir / "members-filtered.png", full_page=True)
    assert problems == []


def test_list_pages_fit_a_phone(new_page, shop, owner, shopper, screenshot_dir):
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    log_in(page, owner.email)
    base = f"/dashboard/{shop.slug}/"
    for path, shot in (
        ("members/", "phone-members.png"),
        ("members/?regions=上海", "phone-members-filtered.png"),
        ("members/tags/", "phone-tags.png"),
        ("members/segments/", "phone-segments.png"),
        (f"members/{shopper.pk}/edit/", "phone-member-edit.png"),
        ("orders/", "phone-orders.png"),
    ):
        page.goto(base + path)
        sizes = no_horizontal_scroll(page)
        page.screenshot(path=screenshot_dir / shot, full_page=True)
        assert sizes["innerWidth"] == PHONE["width"], (path, sizes)
        assert sizes["scrollWidth"] <= sizes["innerWidth"], (path, sizes)
