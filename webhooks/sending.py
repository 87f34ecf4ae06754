"""Sending deliveries (SPEC 17): claim an endpoint's due rows, POST each, record the attempt and the next one.

- A claim moves the row's `next_attempt_at` CLAIM_LEASE ahead (and counts the attempt) before the request: a worker
  killed mid-request leaves a row that falls due again when the lease lapses, and is sent again with the same
  `webhook-id`. At least once, never lost.
- Only 2xx is success; a redirect, any other status, a timeout or a refused address is a failure, retried on the
  schedule below with jitter, Retry-After honoured (up to a day). A request that got no answer pauses the endpoint
  until its retry (its other deliveries wait with it), so a dead or hanging endpoint holds no worker meanwhile.
- 410 disables the endpoint at once; an endpoint failing for FAILING_DISABLE is disabled and the shop's owners are
  told (email, and the dashboard).
- The body is built once per attempt from the event, deterministically, and those bytes are signed and sent."""

import json
import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from shops.bulk import values_cte
from shops.models import Shop

from . import net, signing
from .models import Attempt, Delivery, DeliveryStatus, DisabledReason, Endpoint
from .selectors import events_payloads, owner_emails
from .services import _pending_fail, endpoint_secrets

logger = logging.getLogger(__name__)

# Seconds to wait after the n-th failed attempt (SPEC 17: about 3 days in all); none left: the delivery fails.
SCHEDULE = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600]
JITTER = 0.1  # each wait is drawn within ±10%, so that retries of many deliveries do not arrive together
RETRY_AFTER_MAX = 24 * 3600
FAILING_DISABLE = timedelta(days=5)
BATCH = 50  # rows one sender claims at a time
FLUSH = 25  # successes recorded together
# Seconds after which a claimed row is due again, should its sender die. A batch rarely takes long: the first request
# without an answer pauses the endpoint and gives the rest back. Should a batch of slow answers outlast the lease,
# its last rows may be sent twice (at least once; receivers dedupe by webhook-id), never lost.
CLAIM_LEASE = 120


def retry_delay(*, attempts: int, retry_after: float | None = None, rng=random) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones, or None when the schedule has run out."""
    if attempts > len(SCHEDULE):
        return None
    base = SCHEDULE[attempts - 1]
    delay = base * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_MAX))
    return delay


def body_of(*, shop: Shop, delivery: Delivery, member_id: int | None, payload: dict) -> bytes:
    """The thin JSON body: the type, the time it happened, and the data (the shop, the member, the changed values,
    and `sequence`, which grows with every event of the shop and so orders the events of each resource)."""
    data = {
        "shop": shop.slug,
        "event_id": str(delivery.event_id),
        "sequence": delivery.event_seq,
        "member_id": member_id,
        **payload,
    }
    document = {"type": delivery.event_type, "timestamp": delivery.occurred_at.isoformat(), "data": data}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def deliveries_claim(*, shop: Shop, endpoint_id: int, now: datetime, limit: int = BATCH) -> list[Delivery]:
    with transaction.atomic():
        due = Delivery.objects.filter(
            shop=shop, endpoint_id=endpoint_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        )
        rows = list(due.select_for_update(skip_locked=True).order_by("event_seq")[:limit])
        if rows:
            Delivery.objects.filter(shop=shop, pk__in=[r.pk for r in rows]).update(
                next_attempt_at=now + timedelta(seconds=CLAIM_LEASE), attempts=F("attempts") + 1
            )
    for row in rows:
        row.attempts += 1
    return rows


def endpoint_send_due(*, shop: Shop, endpoint_id: int, on_each=None) -> int:
    """Claim a batch of the endpoint's due deliveries and send them in order. Returns how many were sent (0: none
    due, or the endpoint is disabled or paused). `on_each` runs after each request (the sender refreshes its slot).

    Successes are recorded together (one UPDATE, one INSERT) every FLUSH of them and at the end; a failure is
    recorded on its own, after the successes before it. A worker killed meanwhile leaves its successes unrecorded:
    they are sent again when their claim lapses (receivers dedupe by webhook-id)."""
    now = timezone.now()
    endpoint = Endpoint.objects.filter(shop=shop, pk=endpoint_id, enabled=True, deleted_at__isnull=True).first()
    if endpoint is None or (endpoint.paused_until is not None and endpoint.paused_until > now):
        return 0
    rows = deliveries_claim(shop=shop, endpoint_id=endpoint_id, now=now)
    events = events_payloads(shop=shop, ids=[r.event_id for r in rows])
    delivered: list[tuple[Delivery, net.Outcome, datetime]] = []
    for i, delivery in enumerate(rows):
        member_id, payload = events.get(delivery.event_id, (None, {}))
        outcome, at = delivery_send(
            shop=shop, endpoint=endpoint, delivery=delivery, member_id=member_id, payload=payload
        )
        if on_each:
            on_each()
        if outcome.ok:
            delivered.append((delivery, outcome, at))
            if len(delivered) >= FLUSH:
                successes_record(shop=shop, endpoint=endpoint, delivered=delivered)
                delivered = []
            continue
        successes_record(shop=shop, endpoint=endpoint, delivered=delivered)
        delivered = []
        if not attempt_record(shop=shop, endpoint=endpoint, delivery=delivery, outcome=outcome, now=at):
            _unclaim(shop=shop, endpoint_id=endpoint_id, rows=rows[i + 1 :])
            return i + 1
    successes_record(shop=shop, endpoint=endpoint, delivered=delivered)
    return len(rows)


def _unclaim(*, shop: Shop, endpoint_id: int, rows: list[Delivery]) -> None:
    """The rest of a batch that was not attempted (the endpoint paused or disabled): due again when the endpoint
    is (a disabled endpoint's rows were failed already), its attempt not counted."""
    paused_until = Endpoint.objects.filter(shop=shop, pk=endpoint_id).values_list("paused_until", flat=True).get()
    Delivery.objects.filter(shop=shop, pk__in=[r.pk for r in rows], status=DeliveryStatus.PENDING).update(
        next_attempt_at=paused_until or timezone.now(), attempts=F("attempts") - 1
    )


def delivery_send(
    *, shop: Shop, endpoint: Endpoint, delivery: Delivery, member_id, payload: dict
) -> tuple[net.Outcome, datetime]:
    """One request of one claimed delivery: its outcome and when it was made (not recorded here)."""
    now = timezone.now()
    body = body_of(shop=shop, delivery=delivery, member_id=member_id, payload=payload)
    secrets = endpoint_secrets(endpoint, now=now)
    headers = signing.headers(
        secrets_=secrets, msg_id=str(delivery.event_id), timestamp=int(now.timestamp()), body=body
    )
    return net.post(endpoint.url, body=body, headers=headers), now


def _attempt(shop: Shop, endpoint: Endpoint, delivery: Delivery, outcome: net.Outcome, at: datetime, next_at=None):
    return Attempt(
        shop=shop,
        delivery_id=delivery.pk,
        endpoint_id=endpoint.pk,
        attempted_at=at,
        status_code=outcome.status_code,
        error=outcome.error[:200],
        response_excerpt=outcome.excerpt[:1000],
        duration_ms=outcome.duration_ms,
        next_attempt_at=next_at,
    )


@transaction.atomic
def successes_record(*, shop: Shop, endpoint: Endpoint, delivered: list[tuple[Delivery, net.Outcome, datetime]]):
    """Mark these deliveries delivered and log their attempts, in one UPDATE and one INSERT; the endpoint is not
    failing (nor paused) any more."""
    if not delivered:
        return
    columns = [("id", "int"), ("code", "int"), ("at", "datetime")]
    v, params = values_cte("d", columns, [(d.pk, o.status_code, at) for d, o, at in delivered])
    with connection.cursor() as cursor:
        cursor.execute(
            f"{v} UPDATE webhooks_delivery SET status = 'succeeded', next_attempt_at = NULL, "  # noqa: S608
            "last_status_code = d.code, delivered_at = d.at FROM d "
            "WHERE webhooks_delivery.shop_id = %s AND webhooks_delivery.id = d.id",
            [*params, shop.pk],
        )
    Attempt.objects.bulk_create([_attempt(shop, endpoint, d, o, at) for d, o, at in delivered])
    Endpoint.objects.filter(shop=shop, pk=endpoint.pk).filter(
        Q(failing_since__isnull=False) | Q(paused_until__isnull=False)
    ).update(failing_since=None, paused_until=None)


@transaction.atomic
def attempt_record(*, shop: Shop, endpoint: Endpoint, delivery: Delivery, outcome: net.Outcome, now: datetime) -> bool:
    """Record a failed attempt and schedule the next. Returns False when it disabled or paused the endpoint."""
    rows = Delivery.objects.filter(shop=shop, pk=delivery.pk)
    next_at = None
    delay = (
        None if outcome.status_code == 410 else retry_delay(attempts=delivery.attempts, retry_after=outcome.retry_after)
    )
    if delay is None:
        rows.update(status=DeliveryStatus.FAILED, next_attempt_at=None, last_status_code=outcome.status_code)
    else:
        next_at = now + timedelta(seconds=delay)
        rows.update(next_attempt_at=next_at, last_status_code=outcome.status_code)
    _attempt(shop, endpoint, delivery, outcome, now, next_at).save()
    if outcome.status_code == 410:
        return not endpoint_disable(shop=shop, endpoint=endpoint, reason=DisabledReason.GONE, now=now)
    Endpoint.objects.filter(shop=shop, pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    since = Endpoint.objects.filter(shop=shop, pk=endpoint.pk).values_list("failing_since", flat=True).get()
    if since is not None and now - since >= FAILING_DISABLE:
        return not endpoint_disable(shop=shop, endpoint=endpoint, reason=DisabledReason.FAILING, now=now)
    if outcome.status_code is None and next_at is not None:
        # No answer: the endpoint is down or hanging, not this payload. Pause it until this delivery's retry.
        Endpoint.objects.filter(shop=shop, pk=endpoint.pk).update(paused_until=next_at)
        return False
    return True


def endpoint_disable(*, shop: Shop, endpoint: Endpoint, reason: str, now: datetime) -> bool:
    """Disable the endpoint, fail what it had pending, and tell the owners once. Returns whether this call did."""
    changed = Endpoint.objects.filter(shop=shop, pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_reason=reason, disabled_at=now
    )
    if not changed:
        return False
    _pending_fail(shop=shop, endpoint_id=endpoint.pk)
    recipients = owner_emails(shop=shop)
    if recipients:
        transaction.on_commit(lambda: _tell_owners(shop, endpoint, reason, recipients), robust=True)
    return True


def _tell_owners(shop: Shop, endpoint: Endpoint, reason: str, recipients: list[str]) -> None:
    path = reverse("dashboard:webhooks", kwargs={"shop_slug": shop.slug})
    with translation.override(shop.locale):
        context = {
            "shop": shop,
            "endpoint": endpoint,
            "reason": DisabledReason(reason).label,
            "url": settings.SITE_URL.rstrip("/") + path,
        }
        subject = render_to_string("webhooks/email/disabled_subject.txt", context).strip()
        text = render_to_string("webhooks/email/disabled.txt", context)
    send_mail(subject, text, None, recipients)
