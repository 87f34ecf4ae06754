import pytest
from django.core.cache import cache
from django.db import connection
from django_scopes import scope, scopes_disabled
from rest_framework.test import APIClient

from shops import push
from shops.rest.throttling import memory_buckets
from shops.sms import LocmemBackend

from .distribution_capture import PLUGIN_NAME, DistributionQueries
from .factories import ShopFactory, UserFactory, make_api_key


def pytest_configure(config):
    """tests/test_distribution_queries.py reads every statement the other tests run (tests/distribution_capture.py)."""
    config.pluginmanager.register(DistributionQueries(), PLUGIN_NAME)


def pytest_collection_modifyitems(config, items):
    """`postgres` tests need real row locks and concurrent connections: skip them on SQLite."""
    from django.conf import settings

    if "postgresql" in settings.DATABASES["default"]["ENGINE"]:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """With a replica (DATABASE_REPLICA_URL), Django must not create or drop the test database on it: the replica is
    a read-only physical copy of the primary, where the test database made on the primary appears by itself. Its
    connection only switches to that name (config/settings/test.py). The flush after a transactional test that uses
    it finds no table to empty there: the router migrates the primary only (analytics/routers.py)."""
    from django.db import connections

    if "replica" not in connections:
        return
    replica = connections["replica"]

    class StreamedTestDatabase(type(replica.creation)):
        def create_test_db(self, *args, **kwargs):
            self.connection.close()
            self.connection.settings_dict["NAME"] = self._get_test_db_name()
            return self.connection.settings_dict["NAME"]

        def destroy_test_db(self, old_database_name=None, *args, **kwargs):
            self.connection.close()
            if old_database_name is not None:
                self.connection.settings_dict["NAME"] = old_database_name

    replica.creation = StreamedTestDatabase(replica)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """Fixtures build data across shops, so they run with the scopes lifted (as pretix's conftest does). Test bodies
    run with them on, as production code does (`_test_body_scope`, whose scope must outlive its own setup)."""
    if fixturedef.argname == "_test_body_scope":
        yield
        return
    with scopes_disabled():
        yield


@pytest.fixture(autouse=True)
def _test_body_scope(request):
    """A test body runs in the scope of the test's shops (`shop`, and `other_shop` when it has one), as a service
    call runs in its shop's scope in production: a query outside any scope raises, and rows of shops the test did
    not make stay out of sight. The code under test enters its own: each request starts with no scope
    (RequestScopeMiddleware), each task too (config.celery.UnscopedTask), and both leave none behind."""
    shops = [request.getfixturevalue(name) for name in ("shop", "other_shop") if name in request.fixturenames]
    if not shops:
        yield
        return
    with scope(shop=shops):
        yield


@pytest.fixture(autouse=True)
def _reset_state():
    """Resets the state that outlives a transaction: throttle buckets, cache and the SMS and push outboxes."""
    memory_buckets.clear()
    cache.clear()
    LocmemBackend.reset()
    push.LocmemBackend.reset()


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
