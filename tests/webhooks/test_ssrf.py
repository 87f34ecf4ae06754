"""Safety against SSRF (SPEC 17): https only in production, and the address checked where the socket opens, on
what the name resolves to then. Names resolve through webhooks.net.resolve, pointed here at a fixed mapping (no DNS
is needed or used); a real local receiver shows what gets through and what does not."""

import pytest

from shops.errors import ApplicationError
from shops.services import SYSTEM
from webhooks import net
from webhooks.models import Attempt, Delivery, DeliveryStatus
from webhooks.sending import endpoint_send_due
from webhooks.services import InvalidUrl, endpoint_create, url_check

from .conftest import events_emitted

pytestmark = pytest.mark.django_db


@pytest.fixture
def names(monkeypatch):
    """A hosts file for the test: name -> addresses."""
    mapping: dict[str, list[str]] = {}

    def resolve(host, port):
        if host not in mapping:
            raise OSError(f"no such name {host}")
        return list(mapping[host])

    monkeypatch.setattr(net, "resolve", resolve)
    return mapping


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("10.0.0.5", False),
        ("172.16.3.4", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # shared address space (carrier NAT)
        ("169.254.169.254", False),  # link-local: the cloud metadata service
        ("0.0.0.0", False),  # noqa: S104 - an address refused, not bound
        ("224.0.0.1", False),  # multicast
        ("240.0.0.1", False),  # reserved
        ("255.255.255.255", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("::ffff:169.254.169.254", False),
        ("::ffff:93.184.216.34", True),
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("127.0.0.1", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("not an address", False),
    ],
)
def test_which_addresses_a_webhook_may_reach(address, allowed):
    assert net.address_allowed(address, allow_loopback=False) is allowed


def test_loopback_only_with_the_setting():
    assert net.address_allowed("127.0.0.1", allow_loopback=True)
    assert net.address_allowed("::1", allow_loopback=True)
    assert not net.address_allowed("10.0.0.1", allow_loopback=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "https://user:pass@hooks.example.com/x",
        "https:///x",
        "https://10.0.0.1/x",
        "https://[::ffff:192.168.0.1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/x",
        "https://127.0.0.1/x",
        "hooks.example.com",
        "https://hooks.example.com:99999/x",
    ],
)
def test_urls_refused_in_production(settings, url, shop):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(InvalidUrl):
        url_check(url)
    with pytest.raises(ApplicationError):
        endpoint_create(shop=shop, actor=SYSTEM, url=url, event_types=["member.joined"])
    assert not shop.endpoint_set.exists()


def test_an_https_url_with_a_name_is_accepted_without_resolving_it(settings, names):
    settings.WEBHOOK_ALLOW_HTTP = False
    assert url_check(" https://hooks.example.com/in ") == "https://hooks.example.com/in"


def _send(shop, url):
    endpoint, _secret = endpoint_create(shop=shop, actor=SYSTEM, url=url, event_types=["member.joined"])
    events_emitted(shop, ("member.joined", 1, {}))
    endpoint_send_due(shop=shop, endpoint_id=endpoint.pk)
    return Attempt.objects.get(endpoint_id=endpoint.pk)


def test_a_hostname_resolving_to_a_private_address_is_refused_at_connect_time(shop, names, receiver):
    # given: a name that resolves to a private address
    names["intranet.example"] = ["10.1.2.3"]
    port = receiver.server.server_address[1]
    # when
    attempt = _send(shop, f"http://intranet.example:{port}/hooks")
    # then: refused before any connection, recorded as a failure to retry
    assert attempt.status_code is None and attempt.error.startswith("address not allowed")
    assert "10.1.2.3" in attempt.error
    assert receiver.received == []
    assert Delivery.objects.get().status == DeliveryStatus.PENDING


def test_a_name_resolving_to_loopback_is_refused_without_the_setting(shop, names, receiver, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    names["sneaky.example"] = ["127.0.0.1"]
    attempt = _send(shop, f"http://sneaky.example:{receiver.server.server_address[1]}/hooks")
    assert attempt.error.startswith("address not allowed") and receiver.received == []


def test_a_name_with_one_private_address_among_public_ones_is_refused(shop, names, receiver):
    names["mixed.example"] = ["93.184.216.34", "192.168.0.10"]
    attempt = _send(shop, f"http://mixed.example:{receiver.server.server_address[1]}/hooks")
    assert attempt.error.startswith("address not allowed") and receiver.received == []


def test_the_connection_goes_to_the_address_checked_not_a_second_lookup(shop, names, receiver):
    # given: a name allowed (loopback, as in development) whose next answer would be private (DNS rebinding)
    answers = [["127.0.0.1"], ["10.0.0.1"]]
    calls = []

    def rebinding(host, port):
        calls.append(host)
        return answers[min(len(calls) - 1, 1)]

    net.resolve = rebinding  # names fixture restores the original
    # when
    attempt = _send(shop, f"http://rebind.example:{receiver.server.server_address[1]}/hooks")
    # then: one lookup, and the request reached the address that lookup gave, with the name as Host
    assert calls == ["rebind.example"]
    assert attempt.status_code == 200
    assert receiver.received[0].headers["host"] == f"rebind.example:{receiver.server.server_address[1]}"
    # and the next request, resolved again, is refused
    events_emitted(shop, ("member.joined", 2, {}))
    endpoint_send_due(shop=shop, endpoint_id=attempt.endpoint_id)
    assert len(receiver.received) == 1
    assert Attempt.objects.order_by("pk").last().error.startswith("address not allowed")
