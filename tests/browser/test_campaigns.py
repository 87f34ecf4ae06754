"""The campaign editor and report in a real browser, in zh-Hans (a merchant's browser in China) and in English: the
owner opens the editor from the navigation, picks a tag, types the text and watches the SMS counter (drawn by
static/campaigns/editor.js, which must count as campaigns.rules.sms_parts does) and the live count follow, saves,
sends, and reads the report. Screenshots land in $TEST_OUTPUT_DIR (default test-output/screenshots)."""

from urllib.parse import urlsplit

import pytest
from django.utils import translation

from campaigns.models import Campaign, CampaignStatus
from campaigns.rules import render, sms_compose, sms_parts
from campaigns.services import sample_values
from campaigns.views.editor import counter_text
from members.tags import member_tag_change, tag_create, tag_find
from shops.services import SYSTEM
from tests.campaigns.helpers import members, no_quiet_hours

from .conftest import chromium_missing_reason, log_in

_reason = chromium_missing_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402  (after the skip: Playwright may be absent)

pytestmark = pytest.mark.browser

TEXT = "{name}，周末全场八折，凭券再减20元：{link}"


def expected_counter(shop, text: str, language: str) -> str:
    with translation.override(language):
        body = render(text, sample_values(shop=shop))
        return counter_text(sms_parts(sms_compose(body, signature=shop.name, locale=shop.locale)))


@pytest.fixture
def audience(shop):
    no_quiet_hours(shop)
    tag_create(shop=shop, actor=SYSTEM, name="老客")
    tag = tag_find(shop=shop, name_or_id="老客")
    for member in members(shop, 4):
        member_tag_change(shop=shop, tag=tag, member=member, actor=SYSTEM)
    for member in members(shop, 2, consents={"push": True}):  # never gave SMS consent
        member_tag_change(shop=shop, tag=tag, member=member, actor=SYSTEM)
    return tag


def test_the_owner_writes_sends_and_reads_a_campaign(new_page, shop, owner, audience, screenshot_dir):
    page = new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))
    page.on("response", lambda r: r.status >= 500 and problems.append(f"{r.status} {r.url}"))
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, owner.email)

    # The navigation's "营销活动" leads to the list, its button to the editor.
    page.locator("nav.sidebar").get_by_role("link", name="营销活动").click()
    assert urlsplit(page.url).path == f"/dashboard/{shop.slug}/campaigns/"
    with page.expect_navigation():
        page.get_by_test_id("new-campaign").click()

    page.fill("[name=name]", "周末回购")
    page.check("input[name=audience_kind][value=tag]")
    page.select_option("[name=tag]", str(audience.pk))
    # The live count: 6 tagged, 2 without SMS consent; the 10% holdout by bucket takes some of the 4.
    expect(page.get_by_test_id("live-count-text")).to_contain_text("6")
    expect(page.locator("[data-reason=no_consent]")).to_contain_text("2")

    # Typing the text: the counter follows, as the server counts it (signature and opt-out line included).
    page.fill("[name=text]", "")
    page.get_by_role("button", name="{name}").click()
    page.locator("[name=text]").press_sequentially(TEXT.removeprefix("{name}"))
    expect(page.get_by_test_id("sms-counter")).to_have_text(expected_counter(shop, TEXT, "zh-hans"))
    expect(page.get_by_test_id("message-preview")).to_contain_text("回T退订")
    page.fill("[name=link_url]", "/")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=screenshot_dir / "campaign-editor-zh-hans.png", full_page=True)

    with page.expect_navigation():
        page.get_by_test_id("save-campaign").click()
    campaign = Campaign.objects.get(shop=shop, standing=False)
    assert (campaign.text, campaign.audience, campaign.status) == (TEXT, {"tag": audience.pk}, CampaignStatus.DRAFT)
    assert urlsplit(page.url).path == f"/dashboard/{shop.slug}/campaigns/{campaign.pk}/"

    # Send (after the confirmation): the snapshot and the senders run after the commit.
    with page.expect_navigation():
        page.get_by_test_id("action-send").click()
    campaign.refresh_from_db()
    assert campaign.status in (CampaignStatus.SENDING, CampaignStatus.DONE)
    page.reload()
    expect(page.get_by_test_id("funnel-audience")).to_contain_text("6")
    expect(page.get_by_test_id("window-running")).to_be_visible()
    page.screenshot(path=screenshot_dir / "campaign-report-zh-hans.png", full_page=True)

    # The messaging settings, from the settings navigation.
    page.locator("nav.sidebar").get_by_role("link", name="消息设置").click()
    expect(page.get_by_test_id("providers")).to_contain_text("locmem")
    page.screenshot(path=screenshot_dir / "messaging-settings-zh-hans.png", full_page=True)

    # The same pages in English.
    english = new_page(locale="en-US")
    log_in(english, owner.email, next_path=f"/dashboard/{shop.slug}/campaigns/{campaign.pk}/")
    expect(english.locator("html")).to_have_attribute("lang", "en")
    expect(english.get_by_test_id("funnel")).to_contain_text("Audience")
    english.screenshot(path=screenshot_dir / "campaign-report-en.png", full_page=True)
    english.goto(f"/dashboard/{shop.slug}/campaigns/new/")
    english.fill("[name=text]", TEXT)
    expect(english.get_by_test_id("sms-counter")).to_have_text(expected_counter(shop, TEXT, "en"))
    english.goto(f"/dashboard/{shop.slug}/campaigns/")
    english.screenshot(path=screenshot_dir / "campaign-list-en.png", full_page=True)
    english.goto(f"/dashboard/{shop.slug}/campaigns/new/")
    english.check("input[name=audience_kind][value=tag]")
    english.select_option("[name=tag]", str(audience.pk))
    english.fill("[name=text]", "Hi {name}, 20% off this weekend")
    expect(english.get_by_test_id("live-count-text")).to_contain_text("6")
    english.screenshot(path=screenshot_dir / "campaign-editor-en.png", full_page=True)
    assert problems == []
