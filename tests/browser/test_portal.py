"""A shopper joins on a phone, in a real headless Chromium at 390x844 (a phone, touch, zh-CN): opens a channel's
page, taps "send code" (the page's script asks by fetch and counts down), reads the code from the SMS (the `file`
backend), fills in the form, joins, and lands on the member card with the welcome gift. Screenshots of the landing
page and the member card land in $TEST_OUTPUT_DIR (default test-output/screenshots)."""

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from members.models import Member
from tests.coupons.helpers import make_template
from tests.recruitment.helpers import make_channel

from .conftest import PHONE, chromium_missing_reason

_reason = chromium_missing_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402  (after the skip: Playwright may be absent)

pytestmark = pytest.mark.browser

PHONE_NUMBER = "13800138000"


def newest_code(directory: Path) -> str:
    """The code in the newest SMS the `file` backend wrote (file names start with the time in nanoseconds)."""
    newest = max(directory.glob("*.json"), key=lambda p: p.name)
    return re.search(r"\b(\d{6})\b", json.loads(newest.read_text(encoding="utf-8"))["text"]).group(1)


def no_horizontal_scroll(page) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width


def test_a_shopper_joins_on_a_phone_and_sees_the_member_card_with_the_welcome_gift(
    new_page, shop, settings, tmp_path, screenshot_dir
):
    # given a channel with a headline, benefits and a welcome gift, and SMS written to files
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    template = make_template(shop, name="新人满100减20")
    channel = make_channel(
        shop,
        headline="扫码入会领好礼",
        benefits="积分当钱花\n生日当月双倍积分",
        welcome_points=100,
        welcome_coupon_ids=[template.pk],
    )
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))
    page.on("response", lambda r: r.status >= 500 and problems.append(f"{r.status} {r.url}"))

    # when the shopper opens the channel's page
    page.goto(f"/j/{channel.code}/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_test_id("headline")).to_have_text("扫码入会领好礼")
    expect(page.get_by_test_id("welcome-points")).to_have_text("100")
    expect(page.get_by_test_id("coupon-name")).to_have_text("新人满100减20")
    no_horizontal_scroll(page)
    page.screenshot(path=screenshot_dir / "portal-landing-phone-zh-hans.png", full_page=True)

    # and asks for a code: the script sends it in place and the button counts down
    page.fill("[name=phone]", PHONE_NUMBER)
    page.get_by_test_id("send-code").tap()
    expect(page.get_by_test_id("code-note")).to_have_class(re.compile(r"\bok\b"))
    expect(page.get_by_test_id("send-code")).to_be_disabled()
    assert urlsplit(page.url).path == f"/j/{channel.code}/"  # no page load

    # then fills in the form with the code from the SMS, and joins
    page.fill("[name=code]", newest_code(tmp_path / "sms"))
    page.fill("[name=name]", "韩梅梅")
    page.locator("[name=gender][value=female]").check()
    page.select_option("[name=birthday_month]", "3")
    page.select_option("[name=birthday_day]", "8")
    page.fill("[name=region]", "上海")
    page.locator("[name=agree]").check()
    with page.expect_navigation():
        page.get_by_test_id("join").tap()

    # and lands on the member card, with the welcome points and coupon
    assert urlsplit(page.url).path == f"/m/{shop.slug}/me/"
    expect(page.get_by_test_id("points-balance")).to_have_text("100")
    expect(page.get_by_test_id("tier")).to_have_text("普通会员")
    expect(page.get_by_test_id("card-coupons").get_by_test_id("coupon-name")).to_have_text("新人满100减20")
    no_horizontal_scroll(page)
    page.screenshot(path=screenshot_dir / "portal-member-card-phone-zh-hans.png", full_page=True)

    # the other centre pages hold together on the phone too
    for path, name in (("me/coupons/", "wallet"), ("me/invite/", "invite"), ("me/profile/", "profile")):
        page.goto(f"/m/{shop.slug}/{path}")
        no_horizontal_scroll(page)
        page.screenshot(path=screenshot_dir / f"portal-{name}-phone-zh-hans.png", full_page=True)
    expect(page.locator("[name=consent_sms]")).not_to_be_checked()

    member = Member.objects.get(shop=shop, phone="+86" + PHONE_NUMBER)
    assert (member.name, member.gender, member.birthday_month, member.join_channel) == (
        "韩梅梅",
        "female",
        3,
        channel.code,
    )
    assert (member.consent_sms, member.consent_push, member.consent_email) == (False, False, False)
    assert problems == []
