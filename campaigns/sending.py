"""Sending a campaign's queued messages, each at most once (SPEC 12, CONVENTIONS 5b).

A sender claims a batch of due `queued` rows (FOR UPDATE SKIP LOCKED, so two senders never take the same row),
checks each member's consent again, renders the text and marks the rows `sending` with what will be sent, in one
transaction. Only then is the provider called, with each row's `provider_id` as its deduplication key, and the rows
are marked `sent` or `failed` by its answer. A row is `sending` only while its outcome is unknown: a sender killed
after the provider took the batch, or a provider that timed out. `claims_settle` (the minute tick) settles rows
claimed longer than CLAIM_LEASE ago from the provider (its receipt, or a status query) before anything is sent
again: what the provider holds becomes `sent`, the rest `queued` again under the same key. A provider that fails
(unreachable, 5xx) has the batch settled at once the same way, and the requeued rows wait with a backoff.

A refused number or token is final: `failed` with the provider's reason, never sent again. In-app messages need no
provider: the claim puts them in the inbox (`delivered`)."""

import datetime
import logging

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from members.models import ConsentChange, Device, MemberStatus
from points.selectors import points_expiring
from shops import push, sms
from shops.bulk import values_cte
from shops.messaging import DeliveryError, SendResult
from shops.models import Shop
from shops.ratelimit import provider_wait
from tiers.models import Tier

from .audience import CONSENT_FIELD
from .links import tracked_url
from .models import Campaign, Channel, Message, MessageStatus, Reason, provider_id
from .rules import render, sms_compose
from .selectors import messaging_settings_get
from .snapshot import budget_release

log = logging.getLogger(__name__)

BATCH = {Channel.SMS: 200, Channel.PUSH: 200, Channel.IN_APP: 1000}
MAX_ATTEMPTS = 8  # provider failures of one message before it is given up as failed
EXPIRING_DAYS = 30  # {points_expiring}: points that expire within this many days


def claim_lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.CAMPAIGN_CLAIM_LEASE_SECONDS)


def _backend(channel: str):
    return sms.get_backend() if channel == Channel.SMS else push.get_backend()


def _rate(channel: str) -> float:
    return settings.SMS_RATE_LIMIT if channel == Channel.SMS else settings.PUSH_RATE_LIMIT


def _values(shop: Shop, campaign: Campaign, rows: list[dict]) -> dict[int, dict]:
    """The placeholder values of each claimed row's member (campaigns.rules.PLACEHOLDERS)."""
    members = [row["member_id"] for row in rows]
    tiers = dict(Tier.objects.filter(shop=shop).values_list("pk", "name"))
    base_tier = Tier.objects.filter(shop=shop, rank=0).values_list("name", flat=True).first() or ""
    expiring = {
        r["member_id"]: r["points"]
        for r in points_expiring(shop=shop, within_days=EXPIRING_DAYS).filter(member_id__in=members)
    }
    values = {}
    for row in rows:
        values[row["pk"]] = {
            "name": row["member__name"],
            "shop": shop.name,
            "tier": tiers.get(row["member__tier_id"], base_tier),
            "points_balance": str(row["member__points_balance"]),
            "points_expiring": str(expiring.get(row["member_id"], 0)),
            "coupon": row["coupon__code"] or "",
            "link": tracked_url(shop.pk, row["pk"]) if campaign.link_url else "",
            **(row["detail"] or {}),  # an automation's {order}, {gift}, {date}
        }
    return values


def consent_field(campaign: Campaign) -> str | None:
    """The member field a message of the campaign needs set: the channel's marketing consent, or for a
    transactional message (order care) the member's service messages."""
    return "consent_service" if campaign.transactional else CONSENT_FIELD.get(campaign.channel)


def _suppression(campaign: Campaign, row: dict, once_given: set[int], device: dict[int, str]) -> str:
    """Why a claimed row must not go out now (consent is checked again at send time), or ""."""
    channel = campaign.channel
    if row["member__status"] == MemberStatus.ERASED:
        return Reason.ERASED
    if row["member__status"] == MemberStatus.FROZEN:
        return Reason.FROZEN
    if (field := consent_field(campaign)) and not row[f"member__{field}"]:
        if campaign.transactional:
            return Reason.UNSUBSCRIBED  # service messages are on unless the member opted out
        return Reason.UNSUBSCRIBED if row["member_id"] in once_given else Reason.NO_CONSENT
    if channel == Channel.SMS and not row["member__phone"]:
        return Reason.NO_ADDRESS
    if channel == Channel.PUSH and row["member_id"] not in device:
        return Reason.NO_ADDRESS
    return ""


MARK_COLUMNS = [("id", "int"), ("status", "text"), ("reason", "text"), ("address", "text"), ("text", "text")]


def _mark(shop: Shop, rows: list[tuple], now: datetime.datetime, from_status: str) -> None:
    """Set each row's status, reason, address and text (one UPDATE ... FROM a list of rows)."""
    if not rows:
        return
    cte, params = values_cte("r", MARK_COLUMNS, rows)
    delivered = MessageStatus.DELIVERED
    sql = (
        f"{cte} UPDATE campaigns_message SET status = r.status, reason = r.reason, address = r.address, "  # noqa: S608
        "text = r.text, claimed_at = %s, attempts = attempts + 1, "
        f"sent_at = CASE WHEN r.status = '{delivered}' THEN %s ELSE sent_at END, "
        f"delivered_at = CASE WHEN r.status = '{delivered}' THEN %s ELSE delivered_at END "
        "FROM r WHERE campaigns_message.shop_id = %s AND campaigns_message.id = r.id "
        "AND campaigns_message.status = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, now, now, now, shop.pk, from_status])


def claim(*, shop: Shop, campaign: Campaign, size: int, now: datetime.datetime | None = None) -> list:
    """Claim up to `size` due queued rows of the campaign: returns the provider messages to send (SmsMessage or
    PushMessage); suppressed and in-app rows are settled in the claim itself."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(shop=shop, campaign=campaign, status=MessageStatus.QUEUED, due_at__lte=now)
            .order_by("due_at", "id")
            .values_list("pk", flat=True)[:size]
        )
        if not ids:
            return []
        consent = consent_field(campaign)
        rows = list(
            Message.objects.filter(shop=shop, pk__in=ids).values(
                "pk",
                "member_id",
                "coupon__code",
                "detail",
                "member__name",
                "member__phone",
                "member__status",
                "member__tier_id",
                "member__points_balance",
                *([f"member__{consent}"] if consent else []),
            )
        )
        member_ids = [row["member_id"] for row in rows]
        once_given = set()  # consent given at some time: without it now, they unsubscribed (campaigns.audience)
        if consent and not campaign.transactional:
            once_given = set(
                ConsentChange.objects.filter(
                    shop=shop, member_id__in=member_ids, channel=campaign.channel, granted=True
                ).values_list("member_id", flat=True)
            )
        device = {}
        if campaign.channel == Channel.PUSH:
            for member_id, platform, token in (
                Device.objects.filter(shop=shop, member_id__in=member_ids, is_active=True)
                .order_by("member_id", "last_seen_at", "pk")
                .values_list("member_id", "platform", "token")
            ):
                device[member_id] = (platform, token)  # the one seen last wins
        values = _values(shop, campaign, rows)
        messaging = messaging_settings_get(shop=shop)
        marks, out = [], []
        for row in rows:
            if reason := _suppression(campaign, row, once_given, device):
                marks.append((row["pk"], MessageStatus.SUPPRESSED, reason, "", ""))
                continue
            text = render(campaign.text, values[row["pk"]])
            key = provider_id(shop.pk, row["pk"])
            if campaign.channel == Channel.IN_APP:
                marks.append((row["pk"], MessageStatus.DELIVERED, "", "", text))
            elif campaign.channel == Channel.SMS:
                text = sms_compose(
                    text,
                    signature=messaging.signature or shop.name,
                    locale=shop.locale,
                    marketing=not campaign.transactional,
                )
                marks.append((row["pk"], MessageStatus.SENDING, "", row["member__phone"], text))
                out.append(sms.SmsMessage(shop_id=shop.pk, phone=row["member__phone"], text=text, message_id=key))
            else:
                platform, token = device[row["member_id"]]
                title = render(campaign.title, values[row["pk"]]) or shop.name
                marks.append((row["pk"], MessageStatus.SENDING, "", token, text))
                out.append(
                    push.PushMessage(
                        shop_id=shop.pk,
                        platform=platform,
                        token=token,
                        title=title,
                        body=text,
                        message_id=key,
                        data={"campaign_id": campaign.pk},
                    )
                )
        _mark(shop, marks, now, MessageStatus.QUEUED)
        suppressed = [mark[0] for mark in marks if mark[1] == MessageStatus.SUPPRESSED]
        if suppressed and not campaign.transactional:
            budget_release(shop=shop, campaign_id=campaign.pk, message_ids=suppressed)
    return out


def _row_id(provider_key: str) -> int:
    """The message row of a provider key ("<shop id>-<row id>", campaigns.models.provider_id)."""
    return int(provider_key.split("-", 1)[1])


def results_record(*, shop: Shop, results: list[SendResult], now: datetime.datetime | None = None) -> None:
    """Mark claimed rows by the provider's answer: `sent`, or `failed` with its reason (final)."""
    now = now or timezone.now()
    sending = Message.objects.filter(shop=shop, status=MessageStatus.SENDING)
    sent = [_row_id(r.message_id) for r in results if r.ok]
    if sent:
        sending.filter(pk__in=sent).update(status=MessageStatus.SENT, sent_at=now, error="")
    failures: dict[str, list[int]] = {}
    for r in results:
        if not r.ok:
            failures.setdefault(r.reason, []).append(_row_id(r.message_id))
    for reason, ids in failures.items():
        sending.filter(pk__in=ids).update(status=MessageStatus.FAILED, error=reason[:500])


def settle(*, shop: Shop, channel: str, ids: list[int], now: datetime.datetime | None = None, backoff: bool) -> None:
    """Rows `sending` whose outcome is unknown: a receipt already settled some (delivered); the provider is asked
    about the rest; what it holds is `sent`, the rest `queued` again (same key, so a provider that took it after
    all does not deliver it twice), after a backoff when the provider failed, or `failed` after MAX_ATTEMPTS."""
    now = now or timezone.now()
    sending = Message.objects.filter(shop=shop, status=MessageStatus.SENDING, pk__in=ids)
    sending.filter(delivered_at__isnull=False).update(status=MessageStatus.DELIVERED, sent_at=F("delivered_at"))
    open_ids = list(sending.values_list("pk", flat=True))
    if not open_ids:
        return
    try:
        known = _backend(channel).query([provider_id(shop.pk, i) for i in open_ids])
    except DeliveryError:
        known = {}
    held = [i for i in open_ids if known.get(provider_id(shop.pk, i)) == "sent"]
    if held:
        sending.filter(pk__in=held).update(status=MessageStatus.SENT, sent_at=now)
    refused = [i for i in open_ids if known.get(provider_id(shop.pk, i)) == "failed"]
    if refused:
        sending.filter(pk__in=refused).update(status=MessageStatus.FAILED, error="refused by the provider")
    rest = sending.exclude(pk__in=[*held, *refused])
    rest.filter(attempts__gte=MAX_ATTEMPTS).update(status=MessageStatus.FAILED, error="provider unavailable")
    # After a provider failure the batch waits (a minute, doubling with its attempts, at most an hour); a stale
    # claim keeps its due time: it is overdue already.
    retry = rest.filter(attempts__lt=MAX_ATTEMPTS)
    if backoff:
        for attempts in set(retry.values_list("attempts", flat=True)):
            delay = datetime.timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 3600))
            retry.filter(attempts=attempts).update(status=MessageStatus.QUEUED, due_at=now + delay, claimed_at=None)
    else:
        retry.update(status=MessageStatus.QUEUED, claimed_at=None)


def send_batch(*, shop: Shop, campaign: Campaign, now: datetime.datetime | None = None) -> int:
    """Claim, send and record one batch. Returns the number of rows claimed (0: nothing due). Raises DeliveryError
    after settling the batch when the provider failed."""
    messages = claim(shop=shop, campaign=campaign, size=BATCH[campaign.channel], now=now)
    if not messages:
        return 0
    provider_wait(campaign.channel, len(messages), rate=_rate(campaign.channel))
    try:
        results = _backend(campaign.channel).send_many(messages)
    except DeliveryError:
        log.warning("campaign %s: provider failed, batch settled", campaign.pk)
        settle(shop=shop, channel=campaign.channel, ids=[_row_id(m.message_id) for m in messages], backoff=True)
        raise
    results_record(shop=shop, results=results)
    return len(messages)


def claims_settle(*, shop: Shop, campaign: Campaign, now: datetime.datetime | None = None) -> int:
    """Settle the campaign's claims older than the lease (their sender died). Returns how many."""
    now = now or timezone.now()
    stale = list(
        Message.objects.filter(
            shop=shop, campaign=campaign, status=MessageStatus.SENDING, claimed_at__lt=now - claim_lease()
        ).values_list("pk", flat=True)
    )
    for start in range(0, len(stale), 1000):
        settle(shop=shop, channel=campaign.channel, ids=stale[start : start + 1000], now=now, backoff=False)
    return len(stale)
