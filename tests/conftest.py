import pytest
from django.core.cache import cache
from django.db import connection
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from shops.rest.throttling import memory_buckets
from shops.sms import LocmemBackend

from .factories import ShopFactory, UserFactory, make_api_key


def pytest_collection_modifyitems(config, items):
    """`postgres` tests need real row locks and concurrent connections: skip them on SQLite."""
    from django.conf import settings

    if "postgresql" in settings.DATABASES["default"]["ENGINE"]:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _test_scope_and_state():
    """Test code itself reads across shops (to assert on both); the code under test still enters its own scope.
    Also resets the state that outlives a transaction: throttle buckets, cache and the SMS outbox."""
    memory_buckets.clear()
    cache.clear()
    LocmemBackend.outbox.clear()
    with scopes_disabled():
        yield


@pytest.fixture
def owner(db):
    return UserFactory(email="owner@shop-a.example", name="店主甲")


@pytest.fixture
def shop(owner):
    return ShopFactory(name="甲店", slug="shop-a", owner=owner)


@pytest.fixture
def other_owner(db):
    return UserFactory(email="owner@shop-b.example", name="店主乙")


@pytest.fixture
def other_shop(other_owner):
    """A second tenant in every fixture set: what must never leak or change."""
    return ShopFactory(name="乙店", slug="shop-b", owner=other_owner)


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def api_key(shop):
    return make_api_key(shop)


@pytest.fixture
def api_client(api_key):
    _key, secret = api_key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"
