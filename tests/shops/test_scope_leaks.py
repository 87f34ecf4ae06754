"""A shop's scope is entered and left by one `with`, whatever happens inside: a request or a task that fails leaves
no scope behind, and each request and task starts with none (issue 16, item 3: an API error left its shop's scope
active in the worker, and the next requests ran in it)."""

import pytest
from celery import shared_task
from django.test import override_settings
from django_scopes import get_scope
from rest_framework.test import APIClient, APIRequestFactory

from shops.tenancy import no_shop_scope
from tests.shops.scope_urls import BrokenApi

pytestmark = pytest.mark.django_db


@shared_task
def scope_probe_task():
    return get_scope().get("_enabled", False)


def test_an_api_view_that_raises_leaves_no_scope_behind(api_key):
    # given: no middleware around the view, only its own construct
    request = APIRequestFactory().get("/api/v1/test/broken/", HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    with no_shop_scope():
        # when
        with pytest.raises(RuntimeError):
            BrokenApi.as_view()(request)
        # then
        assert get_scope() == {}


@override_settings(ROOT_URLCONF="tests.shops.scope_urls")
def test_the_request_after_a_500_starts_with_no_scope(api_key):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    assert client.get("/api/v1/test/broken/").status_code == 500

    assert client.get("/scope-probe/").json() == {"enabled": False, "shop": None}


@override_settings(ROOT_URLCONF="tests.shops.scope_urls")
def test_a_request_made_inside_a_scope_starts_with_none_and_gives_it_back(client, shop):
    # The test body runs in `shop`'s scope (conftest), as a worker thread would after a leak.
    assert get_scope()["shop"] == [shop]
    assert client.get("/scope-probe/").json() == {"enabled": False, "shop": None}
    assert get_scope()["shop"] == [shop]


def test_a_task_starts_with_no_scope_even_when_run_inside_one(shop):
    assert get_scope()["shop"] == [shop]
    assert scope_probe_task.delay().get() is False
    assert get_scope()["shop"] == [shop]
