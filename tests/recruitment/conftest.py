import pytest


@pytest.fixture(autouse=True)
def _english(settings):
    """The recruitment tests assert on English messages; the zh-Hans pages are covered by tests/browser."""
    settings.LANGUAGE_CODE = "en"
