"""The webhooks pages (SPEC 17): owners and admins only; the secret shown once; the log with retry and replay."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shops.roles import Role
from tests.factories import add_staff
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint
from webhooks.retention import prune_all_shops
from webhooks.sending import endpoint_send_due
from webhooks.tasks import webhooks_tick

from .conftest import events_emitted
from .receiver import Reply

pytestmark = pytest.mark.django_db


def _url(shop, name="", *args):
    base = f"/dashboard/{shop.slug}/webhooks/"
    return base + "/".join(str(a) for a in args) + ("/" if args else "") + name


@pytest.mark.parametrize("role", [Role.MARKETER, Role.ANALYST, Role.CLERK])
def test_only_owners_and_admins_manage_endpoints(client, shop, endpoint, role):
    client.force_login(add_staff(shop, role))
    assert client.get(_url(shop)).status_code == 403
    assert client.get(_url(shop, "", endpoint.pk)).status_code == 403
    assert client.post(_url(shop, "action/", endpoint.pk), {"action": "delete"}).status_code == 403
    assert Endpoint.objects.get(pk=endpoint.pk).deleted_at is None


def test_an_admin_sees_the_page_in_the_settings_navigation(client, shop):
    client.force_login(add_staff(shop, Role.ADMIN))
    page = client.get(_url(shop))
    assert page.status_code == 200
    assert f'href="/dashboard/{shop.slug}/webhooks/"' in page.content.decode()


def test_create_shows_the_secret_once(owner_client, shop, receiver):
    response = owner_client.post(
        _url(shop), {"url": receiver.url, "events": ["member.joined", "coupon.issued"], "description": "ERP"}
    )
    assert response.status_code == 302
    endpoint = Endpoint.objects.get()
    assert endpoint.event_types == ["coupon.issued", "member.joined"]
    first = owner_client.get(_url(shop)).content.decode()
    assert endpoint.secret in first
    assert endpoint.secret not in owner_client.get(_url(shop)).content.decode()


def test_a_bad_url_is_shown_on_the_form_and_nothing_is_created(owner_client, shop, settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    response = owner_client.post(_url(shop), {"url": "http://hooks.example.com", "events": ["member.joined"]})
    assert response.status_code == 200
    assert "https://" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_the_pages_are_in_chinese_by_default(owner_client, shop, endpoint):
    assert "添加端点" in owner_client.get(_url(shop)).content.decode()
    assert "投递日志" in owner_client.get(_url(shop, "", endpoint.pk)).content.decode()


def test_rotate_shows_the_new_secret_once_and_delete_hides_the_endpoint(owner_client, shop, endpoint):
    owner_client.post(_url(shop, "action/", endpoint.pk), {"action": "rotate"})
    endpoint.refresh_from_db()
    assert endpoint.previous_secret == endpoint.plain_secret and endpoint.secret != endpoint.plain_secret
    assert endpoint.secret in owner_client.get(_url(shop, "", endpoint.pk)).content.decode()
    owner_client.post(_url(shop, "action/", endpoint.pk), {"action": "delete"})
    assert owner_client.get(_url(shop, "", endpoint.pk)).status_code == 404
    assert endpoint.url not in owner_client.get(_url(shop)).content.decode()


def test_the_log_shows_attempts_and_retry_sends_again_with_the_same_id(owner_client, shop, endpoint, receiver):
    # given: a delivery that failed for good
    receiver.script = [Reply(400, body=b"bad request")]
    events_emitted(shop, ("member.joined", 1, {}))
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    Delivery.objects.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    delivery = Delivery.objects.get()
    page = owner_client.get(_url(shop, "", endpoint.pk)).content.decode()
    assert "bad request" in page and str(delivery.event_id) in page
    # when
    owner_client.post(_url(shop, "retry/", endpoint.pk, "deliveries", delivery.pk))
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    # then
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [r.headers["webhook-id"] for r in receiver.received] == [str(delivery.event_id)] * 2


def test_replay_sends_a_period_again_and_adds_what_was_never_delivered(owner_client, shop, endpoint, receiver):
    # given: two events delivered, then one the endpoint missed (its row never written)
    events_emitted(shop, ("member.joined", 1, {}), ("points.posted", 1, {}))
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    events_emitted(shop, ("member.joined", 2, {}), ("tier.changed", 2, {}))
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=True)
    assert Delivery.objects.count() == 2
    # when: the last hour is replayed
    now = timezone.localtime()
    start = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    end = (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    owner_client.post(_url(shop, "replay/", endpoint.pk), {"start": start, "end": end})
    # then: three subscribed events due again (the tier change is not subscribed), each sent once more
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 3
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    assert len(receiver.received) == 5
    assert sorted(Delivery.objects.values_list("event_seq", "status")) == [
        (1, "succeeded"),
        (2, "succeeded"),
        (3, "succeeded"),
    ]


def test_a_replay_of_more_than_30_days_is_refused(owner_client, shop, endpoint):
    now = timezone.localtime()
    response = owner_client.post(
        _url(shop, "replay/", endpoint.pk),
        {"start": (now - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M"), "end": now.strftime("%Y-%m-%dT%H:%M")},
        follow=True,
    )
    assert "30" in response.content.decode()
    assert not Delivery.objects.exists()


def test_the_tick_brings_a_sender_to_each_endpoint_with_deliveries_due(shop, other_shop, endpoint, receiver):
    events_emitted(shop, ("member.joined", 1, {}))
    assert webhooks_tick() == 1  # eager here: the sender ran
    assert len(receiver.received) == 1
    assert webhooks_tick() == 0


def test_the_log_is_pruned_after_30_days(shop, endpoint, receiver):
    events_emitted(shop, ("member.joined", 1, {}), ("member.joined", 2, {}))
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    old = timezone.now() - timedelta(days=31)
    first = Delivery.objects.order_by("event_seq").first()
    Delivery.objects.filter(pk=first.pk).update(created_at=old)
    Attempt.objects.filter(delivery_id=first.pk).update(attempted_at=old)
    assert prune_all_shops() == 2  # the old attempt, then its delivery
    assert list(Delivery.objects.values_list("event_seq", flat=True)) == [2]
    assert Attempt.objects.count() == 1


def test_the_overview_tells_owners_of_an_endpoint_turned_off(owner_client, client, shop, endpoint):
    assert "webhooks-disabled" not in owner_client.get(f"/dashboard/{shop.slug}/").content.decode()
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason="gone")
    home = owner_client.get(f"/dashboard/{shop.slug}/").content.decode()
    assert "webhooks-disabled" in home and endpoint.url in home
    client.force_login(add_staff(shop, Role.MARKETER))
    assert "webhooks-disabled" not in client.get(f"/dashboard/{shop.slug}/").content.decode()
