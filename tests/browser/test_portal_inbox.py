"""The member centre's inbox on a phone, in a real headless Chromium at 390x844 in zh-Hans: the member card's
Messages tile with its unread badge, the inbox with new messages marked, and a campaign's opt-out page. Screenshots
land in $TEST_OUTPUT_DIR (default test-output/screenshots)."""

import datetime
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import Client

from campaigns.links import link_token
from campaigns.models import MessagingSettings
from tests.campaigns.helpers import rows, send_all, started
from tests.portal.helpers import log_in, make_member

from .conftest import PHONE, chromium_missing_reason

_reason = chromium_missing_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402  (after the skip: Playwright may be absent)

pytestmark = pytest.mark.browser


def no_horizontal_scroll(page) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width


def test_the_inbox_on_a_phone_in_chinese(new_page, shop, settings, live_server, screenshot_dir):
    # given a member logged in (the session made by a test client, handed to the browser) and two in-app messages,
    # one with a long title and a link
    settings.SMS_BACKEND = "locmem"
    settings.PUBLIC_URL = live_server.url  # the tracked link in the text, and where it leads, are on this server
    member = make_member(shop, name="韩梅梅", consents={"sms": True})
    MessagingSettings.objects.update_or_create(
        shop=shop,
        defaults={"quiet_start": datetime.time(0), "quiet_end": datetime.time(0), "daily_cap": 9, "weekly_cap": 9},
    )
    for title, text, link in (
        ("双十二会员日", "{name}，会员日全场9折，积分翻倍！", ""),
        (
            "积分商城上新：本周限定好礼，先到先得，换完即止",
            "{name}，您有 {points_balance} 积分可用，去看看 {link}",
            "/m/shop-a/me/mall/",
        ),
    ):
        campaign = started(shop, channel="in_app", holdout_percent=0, title=title, text=text, link_url=link)
        send_all(shop, campaign)
    sms = started(shop, holdout_percent=0, text="{name}，好久不见")
    client = Client()
    assert log_in(client, shop).status_code == 302
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )

    # the member card shows the Messages tile with 2 unread
    page.goto(f"/m/{shop.slug}/me/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_test_id("inbox-unread")).to_have_text("2")
    expect(page.get_by_test_id("inbox-tile")).to_contain_text("消息")
    no_horizontal_scroll(page)
    page.screenshot(path=screenshot_dir / "portal-card-inbox-badge-phone-zh-hans.png", full_page=True)

    # the tile leads to the inbox: newest first, both marked new, the centre's tab current
    with page.expect_navigation():
        page.get_by_test_id("inbox-tile").tap()
    assert urlsplit(page.url).path == f"/m/{shop.slug}/me/inbox/"
    expect(page.get_by_test_id("inbox-message")).to_have_count(2)
    expect(page.get_by_test_id("inbox-new")).to_have_count(2)
    expect(page.get_by_test_id("inbox-title").first).to_have_text("积分商城上新：本周限定好礼，先到先得，换完即止")
    expect(page.get_by_test_id("inbox-text").last).to_have_text("韩梅梅，会员日全场9折，积分翻倍！")
    expect(page.locator("nav.tabs a[aria-current]")).to_have_text("消息")
    no_horizontal_scroll(page)
    page.screenshot(path=screenshot_dir / "portal-inbox-phone-zh-hans.png", full_page=True)

    # the link in the message is the tracked link: it counts the click and lands on the points mall
    with page.expect_navigation():
        page.get_by_test_id("inbox-text").first.locator("a").tap()
    assert urlsplit(page.url).path == f"/m/{shop.slug}/me/mall/"

    # back on the card, nothing is unread
    page.goto(f"/m/{shop.slug}/me/")
    expect(page.get_by_test_id("inbox-unread")).to_have_count(0)

    # and an SMS's opt-out page holds together on the phone
    message = rows(shop, sms).get(member=member)
    page.goto(f"/c/{link_token(shop.pk, message.pk)}/unsubscribe/")
    expect(page.get_by_test_id("unsubscribe")).to_contain_text("营销短信")
    no_horizontal_scroll(page)
    page.screenshot(path=screenshot_dir / "portal-unsubscribe-phone-zh-hans.png", full_page=True)
    with page.expect_navigation():
        page.get_by_test_id("confirm-unsubscribe").tap()
    expect(page.get_by_test_id("unsubscribed")).to_contain_text("已退订")
    page.screenshot(path=screenshot_dir / "portal-unsubscribed-phone-zh-hans.png", full_page=True)
    member.refresh_from_db()
    assert member.consent_sms is False
