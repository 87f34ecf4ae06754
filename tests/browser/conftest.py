"""Browser tests: a real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's sync API against
pytest-django's live server.

One browser per module (module-scoped fixture), a fresh context (cookies, viewport) per test. The whole folder is
skipped when Chromium or Playwright is missing. Never `playwright install`: the system Chromium is the browser.

Every page of every test is watched for what the Content-Security-Policy refuses (the `securitypolicyviolation`
events of the page and Chromium's console messages about the policy): a test whose pages met any fails.
"""

import asyncio
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct-horse-battery"  # UserFactory's
DEFAULT_TIMEOUT_MS = 15_000
# The browser of a merchant in China: Accept-Language zh-CN (Django serves zh-hans). Chromium's own default, en-US,
# would get the English pages.
MERCHANT_LOCALE = "zh-CN"


def chromium_missing_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is absent (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    path = Path(os.environ.get("TEST_OUTPUT_DIR") or Path(__file__).resolve().parents[2] / "test-output/screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    reason = chromium_missing_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # as it should be: the sync API starts its own loop
    else:
        pytest.fail("Playwright's sync API cannot run inside a running asyncio loop (an async test plugin?)")
    # Playwright's sync API keeps an asyncio event loop in this thread, so Django's async-safety check would refuse
    # the test's own ORM calls (fixtures, the flush after each test) with SynchronousOnlyOperation. This is the
    # documented workaround for Playwright + pytest-django. It is set only while the browser is up, so the rest of
    # the suite keeps the check; the live server thread, where the views run, has no loop either way.
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as playwright:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# Runs in every document before its own scripts: reports each violation to the test through a binding.
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolation(`${event.effectiveDirective} refused ${event.blockedURI} in ${event.documentURI}` +
    ` (${event.sourceFile || "the document"}, line ${event.lineNumber}) ${event.sample}`);
});
"""


@pytest.fixture
def csp_violations():
    """What the Content-Security-Policy refused in this test's pages. The test fails if any remain at its end: a test
    that provokes violations on purpose clears the list after checking it."""
    violations = []
    yield violations
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations), pytrace=False)


def watch_csp(context, violations: list) -> None:
    def console(message):
        if "Content Security Policy" in message.text:
            violations.append(f"console: {message.text}")

    context.expose_binding("__cspViolation", lambda source, text: violations.append(text))
    context.add_init_script(CSP_WATCH)
    context.on("console", console)


@pytest.fixture
def new_page(browser, live_server, csp_violations):
    """new_page(viewport=..., **context_options): a page in a fresh browser context, closed after the test, its
    Content-Security-Policy violations collected in `csp_violations`."""
    contexts = []

    def make(viewport=DESKTOP, locale=MERCHANT_LOCALE, **options):
        context = browser.new_context(base_url=live_server.url, viewport=viewport, locale=locale, **options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        watch_csp(context, csp_violations)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        for page in context.pages:
            page.evaluate("0")  # a round trip, so that reports of the last moments arrive before the pages close
        context.close()


@pytest.fixture
def live_host(live_server) -> str:
    return urlsplit(live_server.url).netloc


def log_in(page, email: str, password: str = PASSWORD, *, next_path: str = "/dashboard/"):
    """Open a page that needs a login (the dashboard entry by default), get sent to the login form, sign in."""
    page.goto(next_path)
    assert urlsplit(page.url).path == "/accounts/login/", page.url
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form.card button[type=submit]")
