import pytest
from django.test import override_settings

from config.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_cache_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failed"] == []
    assert body["database"] == "ok"
    assert body["cache"] == "ok"
    assert body["broker"].startswith("eager")


@pytest.fixture
def unreachable_broker():
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    yield
    celery_app.conf.broker_url = previous


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_an_unreachable_broker_is_reported_but_the_database_keeps_it_200(client, unreachable_broker):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"].startswith("error:")


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_reachable_redis_broker_is_ok(client, settings):
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = settings.REDIS_URL
    try:
        assert client.get("/healthz").json()["broker"] == "ok"
    finally:
        celery_app.conf.broker_url = previous
