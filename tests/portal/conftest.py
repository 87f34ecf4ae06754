import pytest
from django.test import Client

from shops.sms import LocmemBackend


@pytest.fixture(autouse=True)
def _portal_settings(settings):
    """The pages in English (the tests assert on English text; zh-Hans is covered by tests/browser), SMS kept in
    memory, an empty outbox."""
    settings.LANGUAGE_CODE = "en"
    settings.SMS_BACKEND = "locmem"
    LocmemBackend.outbox.clear()


@pytest.fixture
def shop(shop):
    """Shop A speaks English: a shopper who chose no language gets the shop's."""
    shop.locale = "en"
    shop.save(update_fields=["locale"])
    return shop


@pytest.fixture
def other_shop(other_shop):
    other_shop.locale = "en"
    other_shop.save(update_fields=["locale"])
    return other_shop


@pytest.fixture
def shopper():
    """A phone's browser."""
    return Client(REMOTE_ADDR="198.51.100.20")
