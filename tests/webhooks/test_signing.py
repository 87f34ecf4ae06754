"""Signatures per Standard Webhooks, checked with the `standardwebhooks` package (any receiver's library)."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shops.services import SYSTEM
from webhooks import signing
from webhooks.selectors import endpoint_get
from webhooks.sending import endpoint_send_due
from webhooks.services import endpoint_rotate

from .conftest import events_emitted

pytestmark = pytest.mark.django_db


def test_the_signer_reproduces_the_specifications_fixed_vector():
    signature = signing.sign(
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
        body=b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_new_secret_is_whsec_and_32_random_bytes():
    a, b = signing.secret_new(), signing.secret_new()
    assert a.startswith("whsec_") and len(signing._key(a)) == 32 and a != b


def test_a_delivery_verifies_with_the_standardwebhooks_package(shop, endpoint, receiver):
    # when
    events_emitted(shop, ("member.joined", 7, {"source": "api"}))
    assert endpoint_send_due(shop=shop, endpoint_id=endpoint.pk) == 1
    # then: the exact bytes received verify, and say what happened
    (request,) = receiver.received
    payload = Webhook(endpoint.plain_secret).verify(request.body, request.headers)
    assert payload["type"] == "member.joined"
    assert (
        payload["data"]["member_id"] == 7
        and payload["data"]["source"] == "api"
        and payload["data"]["shop"] == shop.slug
    )
    assert payload["data"]["sequence"] == 1
    assert request.headers["webhook-id"] == payload["data"]["event_id"]
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.secret_new()).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.plain_secret).verify(request.body + b" ", request.headers)


def test_during_a_rotation_both_secrets_verify_and_after_24_hours_only_the_new_one(shop, endpoint, receiver):
    # given: a rotation
    _endpoint, new_secret = endpoint_rotate(shop=shop, actor=SYSTEM, endpoint=endpoint)
    events_emitted(shop, ("member.joined", 1, {}))
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    request = receiver.received[-1]
    # then: two signatures, each verifying under its secret
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(endpoint.plain_secret).verify(request.body, request.headers)
    Webhook(new_secret).verify(request.body, request.headers)
    # when: 24 hours and a minute later
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1), tick=False):
        events_emitted(shop, ("member.joined", 2, {}))
        endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
        later = receiver.received[-1]
        headers = {**later.headers}
        assert len(headers["webhook-signature"].split(" ")) == 1
        Webhook(new_secret).verify(later.body, headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(endpoint.plain_secret).verify(later.body, headers)
    assert json.loads(later.body)["data"]["sequence"] == 2
    assert endpoint_get(shop=shop, pk=endpoint.pk).secret == new_secret
