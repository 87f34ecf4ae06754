"""The automation pages in a real browser, in zh-Hans and English: the owner finds the automations in the
navigation, switches the birthday one on, opens its editor, changes the days, the holdout and the message, saves,
and reads the page with its preview; the survey answers page. Screenshots land in $TEST_OUTPUT_DIR."""

from urllib.parse import urlsplit

import pytest

from automations.models import Automation, Step, StepKind

from .conftest import chromium_missing_reason, log_in

_reason = chromium_missing_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402  (after the skip: Playwright may be absent)

pytestmark = pytest.mark.browser


def test_the_owner_switches_on_and_edits_an_automation(new_page, shop, owner, screenshot_dir):
    page = new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))
    page.on("response", lambda r: r.status >= 500 and problems.append(f"{r.status} {r.url}"))
    log_in(page, owner.email)

    page.locator("nav.sidebar").get_by_role("link", name="自动化营销").click()
    assert urlsplit(page.url).path == f"/dashboard/{shop.slug}/automations/"
    expect(page.get_by_test_id("automations")).to_contain_text("生日礼")
    with page.expect_navigation():
        page.get_by_test_id("switch-birthday").click()
    expect(page.get_by_test_id("switch-birthday")).to_have_text("开启")
    page.screenshot(path=screenshot_dir / "automation-list-zh-hans.png", full_page=True)
    birthday = Automation.objects.get(shop=shop, key="birthday")
    assert birthday.enabled

    page.get_by_role("link", name="生日礼").click()
    expect(page.get_by_test_id("preview")).to_contain_text("生日")
    with page.expect_navigation():
        page.get_by_test_id("edit").click()
    page.fill("[name=days]", "7")
    page.fill("[name=holdout_percent]", "10")
    message = page.get_by_test_id("step-1")
    message.locator("textarea").fill("{name}，{date}生日快乐！{gift}已放入券包，到店出示即可使用。")
    page.screenshot(path=screenshot_dir / "automation-editor-zh-hans.png", full_page=True)
    with page.expect_navigation():
        page.get_by_test_id("save").click()

    birthday.refresh_from_db()
    assert (birthday.days, birthday.holdout_percent) == (7, 10)
    step = Step.objects.get(automation=birthday, kind=StepKind.MESSAGE)
    assert step.campaign.text == "{name}，{date}生日快乐！{gift}已放入券包，到店出示即可使用。"
    expect(page.get_by_test_id("preview")).to_contain_text("到店出示即可使用")
    expect(page.get_by_test_id("results")).to_be_visible()
    page.screenshot(path=screenshot_dir / "automation-detail-zh-hans.png", full_page=True)

    # A placeholder misspelt: refused on the form, nothing saved.
    page.get_by_test_id("edit").click()
    page.get_by_test_id("step-1").locator("textarea").fill("{nmae}生日快乐")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("automation-form")).to_contain_text("nmae")
    step.campaign.refresh_from_db()
    assert "到店出示" in step.campaign.text

    english = new_page(locale="en-US")
    log_in(english, owner.email, next_path=f"/dashboard/{shop.slug}/automations/")
    expect(english.get_by_test_id("automations")).to_contain_text("Trigger")
    english.screenshot(path=screenshot_dir / "automation-list-en.png", full_page=True)
    english.goto(f"/dashboard/{shop.slug}/automations/{birthday.pk}/edit/")
    english.screenshot(path=screenshot_dir / "automation-editor-en.png", full_page=True)
    english.goto(f"/dashboard/{shop.slug}/automations/survey/")
    expect(english.get_by_test_id("survey-answers")).to_contain_text("No answers yet.")
    assert problems == []
