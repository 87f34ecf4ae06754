"""Webhook endpoints and deliveries (SPEC 17): writes.

Invariant: one Delivery row per (endpoint, event), written before any request (consumers.deliveries_create); a
pending row always has its next attempt time, which is the retry schedule (sending.py) kept in the database."""

import ipaddress
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from events.outbox import uuid7
from events.types import EventType
from shops.bulk import adapt, values_cte
from shops.errors import ApplicationError, Conflict
from shops.models import Shop
from shops.services import Actor, audit_record

from . import signing
from .models import Delivery, DeliveryStatus, Endpoint
from .net import address_allowed
from .selectors import MAX_ENDPOINTS, endpoint_list

ROTATION_OVERLAP = timedelta(hours=24)
REPLAY_MAX = timedelta(days=30)


class InvalidUrl(ApplicationError):
    code = "invalid_url"


def send_on_commit(shop_id: int, endpoint_ids) -> None:
    """Start the endpoints' senders once the rows they will read have committed."""
    from .tasks import webhook_send

    for endpoint_id in sorted(set(endpoint_ids)):
        for _slot in range(settings.WEBHOOK_ENDPOINT_CONCURRENCY):
            transaction.on_commit(lambda e=endpoint_id: webhook_send.delay(shop_id, e), robust=True)


def url_check(url: str) -> str:
    """A URL webhooks may be sent to: https (http only with WEBHOOK_ALLOW_HTTP), a host, no credentials, and no
    literal address that is not allowed. Names are checked where the request connects (net.py)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidUrl(_("Give a full URL, e.g. https://example.com/hooks.")) from None
    allowed = {"https", "http"} if settings.WEBHOOK_ALLOW_HTTP else {"https"}
    if parts.scheme not in allowed:
        raise InvalidUrl(_("The URL must start with https://."))
    if not parts.hostname or parts.username is not None or parts.password is not None or port == 0:
        raise InvalidUrl(_("Give a full URL with a host name and no user name or password."))
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if literal is not None and not address_allowed(str(literal)):
        raise InvalidUrl(_("Webhooks cannot be sent to private, loopback or reserved addresses."))
    if parts.hostname == "localhost" and not settings.WEBHOOK_ALLOW_LOOPBACK:
        raise InvalidUrl(_("Webhooks cannot be sent to private, loopback or reserved addresses."))
    return url


def event_types_check(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - set(EventType.values))
    if unknown or not types:
        raise ApplicationError(
            _("Choose one or more event types."), code="invalid_event_types", details={"unknown": unknown}
        )
    return sorted(set(types))


@transaction.atomic
def endpoint_create(
    *, shop: Shop, actor: Actor, url: str, event_types: list[str], description: str = ""
) -> tuple[Endpoint, str]:
    """A new endpoint and its secret (shown once). Raises InvalidUrl, ApplicationError, Conflict (limit)."""
    url, event_types = url_check(url), event_types_check(event_types)
    if endpoint_list(shop=shop).count() >= MAX_ENDPOINTS:
        raise Conflict(
            _("A shop can have at most %(n)d webhook endpoints.") % {"n": MAX_ENDPOINTS}, code="limit_reached"
        )
    secret = signing.secret_new()
    endpoint = Endpoint.objects.create(
        shop=shop, url=url, event_types=event_types, description=description, secret=secret
    )
    audit_record(shop=shop, actor=actor, action="webhook.create", obj=endpoint, changes={"url": ["", url]})
    return endpoint, secret


@transaction.atomic
def endpoint_delete(*, shop: Shop, actor: Actor, endpoint: Endpoint) -> None:
    """Stop sending to the endpoint; its log stays (the row is kept, hidden). Idempotent."""
    now = timezone.now()
    Endpoint.objects.filter(shop=shop, pk=endpoint.pk).update(enabled=False, deleted_at=now)
    _pending_fail(shop=shop, endpoint_id=endpoint.pk)
    audit_record(shop=shop, actor=actor, action="webhook.delete", obj=endpoint)


@transaction.atomic
def endpoint_rotate(*, shop: Shop, actor: Actor, endpoint: Endpoint) -> tuple[Endpoint, str]:
    """A new secret (shown once); the current one keeps signing beside it for 24 hours."""
    endpoint = Endpoint.objects.select_for_update().get(shop=shop, pk=endpoint.pk)
    secret = signing.secret_new()
    endpoint.previous_secret, endpoint.secret = endpoint.secret, secret
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
    endpoint.save(update_fields=["previous_secret", "secret", "previous_secret_expires_at"])
    audit_record(shop=shop, actor=actor, action="webhook.rotate", obj=endpoint)
    return endpoint, secret


@transaction.atomic
def endpoint_enable(*, shop: Shop, actor: Actor, endpoint: Endpoint) -> None:
    """Turn a disabled endpoint back on (what failed meanwhile is replayed by range, if wanted)."""
    Endpoint.objects.filter(shop=shop, pk=endpoint.pk, deleted_at__isnull=True).update(
        enabled=True, disabled_reason="", disabled_at=None, failing_since=None, paused_until=None
    )
    audit_record(shop=shop, actor=actor, action="webhook.enable", obj=endpoint)


def endpoint_secrets(endpoint: Endpoint, *, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one within its 24 hours."""
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


def _pending_fail(*, shop: Shop, endpoint_id: int) -> int:
    pending = Delivery.objects.filter(shop=shop, endpoint_id=endpoint_id, status=DeliveryStatus.PENDING)
    return pending.update(status=DeliveryStatus.FAILED, next_attempt_at=None)


@transaction.atomic
def delivery_retry(*, shop: Shop, actor: Actor, endpoint: Endpoint, delivery: Delivery) -> None:
    """Send one delivery again now, with the same webhook-id, whatever its state (the merchant has mended the
    receiver: a pause after a timeout is lifted)."""
    if not endpoint.enabled:
        raise Conflict(_("Turn the endpoint back on first."), code="endpoint_disabled")
    Endpoint.objects.filter(shop=shop, pk=endpoint.pk).update(paused_until=None)
    Delivery.objects.filter(shop=shop, endpoint=endpoint, pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now()
    )
    audit_record(shop=shop, actor=actor, action="webhook.retry", obj=endpoint, changes={"delivery": ["", delivery.pk]})
    send_on_commit(shop.pk, [endpoint.pk])


@transaction.atomic
def deliveries_replay(*, shop: Shop, actor: Actor, endpoint: Endpoint, start: datetime, end: datetime) -> int:
    """Send again every event of [start, end) that the endpoint subscribes to, delivered or not (receivers dedupe
    by webhook-id); events not delivered yet are added. Returns how many deliveries are due. One statement."""
    if not endpoint.enabled:
        raise Conflict(_("Turn the endpoint back on first."), code="endpoint_disabled")
    if not start < end or end - start > REPLAY_MAX:
        raise ApplicationError(_("Give a period of at most 30 days, its start before its end."), code="invalid_period")
    now = timezone.now()
    Endpoint.objects.filter(shop=shop, pk=endpoint.pk).update(paused_until=None)
    v, params = values_cte(
        "w", [("endpoint_id", "int"), ("type", "text")], [(endpoint.pk, t) for t in endpoint.event_types]
    )
    sql = (
        f"{v} INSERT INTO webhooks_delivery (shop_id, endpoint_id, event_id, event_type, event_seq, occurred_at, "  # noqa: S608
        "status, attempts, next_attempt_at, created_at) "
        "SELECT e.shop_id, w.endpoint_id, e.id, e.type, e.seq, e.occurred_at, 'pending', 0, %s, %s "
        "FROM events_event e JOIN w ON w.type = e.type "
        "WHERE e.shop_id = %s AND e.seq IS NOT NULL AND e.id >= %s AND e.id < %s "
        "ON CONFLICT (shop_id, endpoint_id, event_id) DO UPDATE SET status = 'pending', "
        "next_attempt_at = excluded.next_attempt_at"
    )
    with connection.cursor() as cursor:
        moments = [adapt(now, "datetime")] * 2
        cursor.execute(sql, [*params, *moments, shop.pk, adapt(uuid7(start), "uuid"), adapt(uuid7(end), "uuid")])
        count = cursor.rowcount
    audit_record(
        shop=shop,
        actor=actor,
        action="webhook.replay",
        obj=endpoint,
        changes={"period": ["", f"{start.isoformat()} – {end.isoformat()}"], "deliveries": ["", count]},
    )
    send_on_commit(shop.pk, [endpoint.pk])
    return count
