"""Outbound requests to merchants' endpoints, safe against SSRF (SPEC 17).

The address is checked where the socket is opened, not when the URL is saved: the connection classes below
resolve the host through `resolve` (the one place names become addresses, which tests point at a fixed mapping),
refuse the request when any address is private, loopback, link-local, multicast, reserved or unspecified (IPv4
inside IPv6 included: mapped, 6to4, NAT64, Teredo), and connect to the address they checked, so a DNS answer
that changes between the check and the connect (rebinding) cannot get through. TLS still verifies the name.
Loopback is allowed only with WEBHOOK_ALLOW_LOOPBACK (development and tests). No redirect is followed, no proxy
is read from the environment, and only the first RESPONSE_LIMIT bytes of a response are read."""

import email.utils
import ipaddress
import socket
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as util_connection

from shops.ids import ascii_digits

TIMEOUT = 15.0  # seconds for the whole request (SPEC 17)
RESPONSE_LIMIT = 1024  # bytes of a response body read and kept as its excerpt
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """The URL's host resolves to an address that webhooks may not reach."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to. Tests replace this function to map names without DNS."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_allowed(text: str, *, allow_loopback: bool | None = None) -> bool:
    """Whether a webhook may connect to this address: a global unicast one (loopback only when allowed)."""
    if allow_loopback is None:
        allow_loopback = settings.WEBHOOK_ALLOW_LOOPBACK
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and (inner := _embedded_ipv4(address)) is not None:
        address = inner
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast and not address.is_reserved


def checked_addresses(host: str, port: int) -> list[str]:
    """The host's addresses, all allowed; raises AddressRefused when any is not (or there are none)."""
    addresses = resolve(host.strip("[]"), port)
    refused = [a for a in addresses if not address_allowed(a)]
    if refused or not addresses:
        raise AddressRefused(f"{host} resolves to an address that is not allowed ({', '.join(refused) or 'none'})")
    return addresses


class _Guarded:
    """Opens the socket to an address checked here, instead of letting the socket library resolve the name."""

    def _new_conn(self) -> socket.socket:
        error: Exception | None = None
        for address in checked_addresses(self._dns_host, self.port):
            try:
                sock = util_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
            except OSError as exc:
                error = exc
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


def _pool_manager() -> urllib3.PoolManager:
    manager = urllib3.PoolManager(num_pools=200, maxsize=4, block=False)
    manager.pool_classes_by_scheme = {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}
    return manager


_manager = _pool_manager()


@dataclass(frozen=True)
class Outcome:
    status_code: int | None  # None: no answer (refused address, timeout, connection error)
    excerpt: str
    error: str
    duration_ms: int
    retry_after: float | None  # seconds, from a Retry-After header

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if ascii_digits(value):
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float | None = None) -> Outcome:
    """POST `body` to `url` once: no redirect followed, no retry, the response read up to RESPONSE_LIMIT."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        response = _manager.request(
            "POST",
            url,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            timeout=urllib3.Timeout(total=timeout or TIMEOUT),
            preload_content=False,
        )
    except AddressRefused as exc:
        return Outcome(None, "", f"address not allowed: {exc}"[:200], took(), None)
    except urllib3.exceptions.HTTPError as exc:
        cause = exc.__context__ if isinstance(exc.__context__, AddressRefused) else exc
        prefix = "address not allowed: " if isinstance(cause, AddressRefused) else ""
        return Outcome(None, "", f"{prefix}{type(cause).__name__}: {cause}"[:200], took(), None)
    error, complete = "", False
    try:
        data = response.read(RESPONSE_LIMIT, decode_content=False)
        complete = not response.read(1, decode_content=False)
    except urllib3.exceptions.HTTPError as exc:  # the status line arrived, the body did not (in time)
        data, error = b"", f"{type(exc).__name__}: {exc}"[:200]
    finally:
        # A body longer than the limit is not drained: the connection is dropped instead of reused.
        if complete:
            response.release_conn()
        else:
            response.close()
    excerpt = data.decode("utf-8", errors="replace")
    return Outcome(response.status, excerpt, error, took(), retry_after_seconds(response.headers.get("Retry-After")))
