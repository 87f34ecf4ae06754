import pytest
from django.db import transaction

from events.outbox import emit
from events.tasks import events_dispatch
from events.types import EventType
from shops.services import SYSTEM
from webhooks.services import endpoint_create

from .receiver import Receiver


@pytest.fixture(autouse=True)
def _local_receivers(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_LOOPBACK = True


@pytest.fixture(autouse=True)
def _event_ids_from_this_tests_clock(monkeypatch):
    """Event ids (UUIDv7) never go back within a process: after a test that moved the clock days ahead, the next
    test's ids would still be days ahead. Each test starts from its own clock (replays select events by id)."""
    from events import outbox

    monkeypatch.setattr(outbox, "_last", [0, 0])


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def endpoint(shop, receiver):
    endpoint, secret = endpoint_create(
        shop=shop, actor=SYSTEM, url=receiver.url, event_types=["member.joined", "points.posted"]
    )
    endpoint.plain_secret = secret
    return endpoint


def events_emitted(shop, *specs) -> None:
    """Commit events (type, member_id, payload) and hand them to the consumers, as the dispatcher does."""
    with transaction.atomic():
        for kind, member_id, payload in specs:
            emit(shop_id=shop.pk, type=EventType(kind), member_id=member_id, payload=payload)
    events_dispatch(shop.pk)
