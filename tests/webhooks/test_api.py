"""The webhooks API and the events API (SPEC 10 and 17)."""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from events.outbox import emit
from events.tasks import events_dispatch
from events.types import EventType
from shops.models import AuditLogEntry
from tests.factories import make_api_key
from webhooks.models import Delivery, Endpoint
from webhooks.sending import endpoint_send_due

from .conftest import events_emitted

pytestmark = pytest.mark.django_db


def test_create_shows_the_secret_once_and_list_never(api_client, shop, settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    body = {"url": "https://hooks.example.com/in", "events": ["member.joined", "tier.changed"], "description": "CRM"}
    response = api_client.post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["member.joined", "tier.changed"] and created["enabled"] is True
    assert Endpoint.objects.get(pk=created["id"]).secret == created["secret"]
    listed = api_client.get("/api/v1/webhooks/").json()["results"]
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    assert "secret" not in api_client.get(f"/api/v1/webhooks/{created['id']}/").json()
    assert AuditLogEntry.objects.filter(action="webhook.create").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://hooks.example.com/in", "events": ["member.joined"]}, None),
        ({"url": "https://10.0.0.1/in", "events": ["member.joined"]}, None),
        ({"url": "https://hooks.example.com/in", "events": ["no.such"]}, "events"),
        ({"url": "https://hooks.example.com/in", "events": []}, "events"),
        ({"url": "https://hooks.example.com/in"}, "events"),
        ({"url": 5, "events": ["member.joined"]}, "url"),
        ({"url": "https://hooks.example.com/in", "events": ["member.joined"], "secret": "whsec_x"}, "secret"),
    ],
)
def test_bad_input_is_400_and_creates_nothing(api_client, settings, body, field):
    settings.WEBHOOK_ALLOW_HTTP = False
    response = api_client.post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400
    if field:
        assert field in response.json()["details"]
    else:
        assert response.json()["code"] == "invalid_url"
    assert not Endpoint.objects.exists()


def test_the_shop_limit_of_endpoints_is_a_409(api_client):
    body = {"url": "https://hooks.example.com/in", "events": ["member.joined"]}
    for _ in range(20):
        assert api_client.post("/api/v1/webhooks/", body, format="json").status_code == 201
    response = api_client.post("/api/v1/webhooks/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "limit_reached")
    assert Endpoint.objects.count() == 20


def test_delete_stops_sending_and_hides_the_endpoint(api_client, shop, endpoint, receiver):
    events_emitted(shop, ("member.joined", 1, {}))
    assert api_client.delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 204
    assert endpoint_send_due(shop=shop, endpoint_id=endpoint.pk) == 0
    assert receiver.received == []
    assert list(Delivery.objects.values_list("status", flat=True)) == ["failed"]
    assert api_client.get(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 404
    assert api_client.delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 404
    assert api_client.get("/api/v1/webhooks/").json()["results"] == []


def test_rotate_returns_a_new_secret_and_both_sign_for_a_day(api_client, shop, endpoint, receiver):
    response = api_client.post(f"/api/v1/webhooks/{endpoint.pk}/rotate/")
    assert response.status_code == 200
    new_secret = response.json()["secret"]
    assert new_secret != endpoint.plain_secret
    events_emitted(shop, ("member.joined", 1, {}))
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    request = receiver.received[0]
    for secret in (endpoint.plain_secret, new_secret):
        Webhook(secret).verify(request.body, request.headers)


def test_the_delivery_log_lists_each_attempt(api_client, shop, endpoint, receiver):
    from .receiver import Reply

    receiver.script = [Reply(500, body=b"down")]
    events_emitted(shop, ("member.joined", 1, {}))
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    Delivery.objects.update(next_attempt_at=timezone.now())
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    (row,) = api_client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()["results"]
    assert (row["event_type"], row["status"], row["attempts"], row["sequence"]) == ("member.joined", "succeeded", 2, 1)
    assert [(a["status_code"], a["response_excerpt"]) for a in row["log"]] == [(500, "down"), (200, "ok")]
    assert row["log"][0]["next_attempt_at"] is not None and row["log"][1]["next_attempt_at"] is None


def _emit(shop, kind, member_id):
    with transaction.atomic():
        emit(shop_id=shop.pk, type=EventType(kind), member_id=member_id, payload={"n": member_id})


def test_the_events_api_pages_oldest_first_with_a_cursor_and_filters_by_type(api_client, shop, other_shop):
    for n in range(5):
        _emit(shop, "member.joined" if n % 2 == 0 else "points.posted", n)
    _emit(other_shop, "member.joined", 99)
    events_dispatch(shop.pk)
    events_dispatch(other_shop.pk)
    first = api_client.get("/api/v1/events/", {"limit": "2"}).json()
    assert [(e["sequence"], e["data"]["n"]) for e in first["results"]] == [(1, 0), (2, 1)]
    after = first["results"][-1]["id"]
    assert f"after={after}" in first["next"]
    second = api_client.get("/api/v1/events/", {"limit": "2", "after": after}).json()
    assert [e["sequence"] for e in second["results"]] == [3, 4]
    third = api_client.get("/api/v1/events/", {"limit": "2", "after": second["results"][-1]["id"]}).json()
    assert [e["sequence"] for e in third["results"]] == [5] and third["next"] is None
    joined = api_client.get("/api/v1/events/", {"type": "member.joined"}).json()["results"]
    assert [e["member_id"] for e in joined] == [0, 2, 4]
    both = api_client.get("/api/v1/events/", {"type": "member.joined,points.posted"}).json()["results"]
    assert len(both) == 5


def test_the_events_api_refuses_bad_parameters_and_another_shops_cursor(api_client, shop, other_shop):
    _emit(other_shop, "member.joined", 1)
    events_dispatch(other_shop.pk)
    foreign = api_client.get("/api/v1/events/")
    assert foreign.json()["results"] == []
    from events.models import Event

    foreign_id = Event.objects.get(shop=other_shop).pk
    for params, field in (
        ({"after": str(foreign_id)}, "after"),
        ({"after": "nope"}, "after"),
        ({"type": "member.joined,bogus"}, "type"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
    ):
        response = api_client.get("/api/v1/events/", params)
        assert response.status_code == 400 and field in response.json()["details"], params


def test_the_events_api_lists_only_the_last_30_days(api_client, shop):
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=31), tick=False):
        _emit(shop, "member.joined", 1)
    with time_machine.travel(start - timedelta(days=29), tick=False):
        _emit(shop, "member.joined", 2)
    _emit(shop, "member.joined", 3)
    events_dispatch(shop.pk)
    with time_machine.travel(start, tick=False):
        listed = api_client.get("/api/v1/events/").json()["results"]
    assert [e["member_id"] for e in listed] == [2, 3]
    # a day later the second one is out of the window as well
    with time_machine.travel(start + timedelta(days=1, hours=1), tick=False):
        key = make_api_key(shop)[1]
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        assert [e["member_id"] for e in client.get("/api/v1/events/").json()["results"]] == [3]
