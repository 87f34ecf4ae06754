"""The snapshot (SPEC 12): a campaign's audience written as message rows, `queued` or `suppressed` with a reason,
in chunks of members by id (keyset). Each chunk is one transaction that locks the campaign row, writes its rows with
one INSERT ... SELECT (campaigns.audience classifies), counts the queued ones against the contact budget, issues
the attached coupon set-based and moves the cursor: a chunk is applied once, and a redelivered task carries on from
the cursor.

The contact budget is checked and counted under one lock per shop (`budget_lock`), so two campaigns snapshotting at
once cannot both pass a member's cap: the second reads the first's counts."""

import datetime

from django.db import connection, transaction
from django.db.models import CharField, F, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from coupons.errors import NotIssuable
from coupons.issuance import coupons_issue_bulk
from coupons.models import Coupon, CouponTemplate, Source
from shops.bulk import in_condition
from shops.models import Shop
from shops.time import local_date

from .audience import audience_members, classification_plan, classified, timing_plan
from .models import Campaign, CampaignStatus, Message, MessageStatus, MessagingSettings
from .selectors import messaging_settings_get

CHUNK = 50_000
BUDGET_LOCK = 0x48594254  # the advisory lock class of the contact budget ("HYBT"); the shop id is the key

MESSAGE_COLUMNS = (
    "shop_id",
    "campaign_id",
    "member_id",
    "channel",
    "status",
    "reason",
    "due_at",
    "due_on",
    "attempts",
    "clicks",
    "error",
    "address",
    "text",
)


def budget_lock(shop: Shop) -> None:
    """Hold the shop's contact-budget lock until the transaction ends (PostgreSQL; SQLite has one writer anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [BUDGET_LOCK, shop.pk])  # tenant-ok: a lock


def _rows(shop: Shop, campaign: Campaign, settings: MessagingSettings, members, start: datetime.datetime):
    timing = timing_plan(shop=shop, campaign=campaign, settings=settings, start=start)
    qs = classified(shop=shop, campaign=campaign, settings=settings, timing=timing, members=members)
    # Every column an annotation, in the table's order: values_list then selects exactly these, in this order.
    return qs.annotate(
        c_shop=F("shop_id"),
        c_campaign=Value(campaign.pk),
        c_member=F("pk"),
        c_channel=Value(campaign.channel),
        c_reason=F("message_reason"),
        c_due_at=Coalesce(F("due_at"), Value(start)),  # a dropped message keeps the start as its time
        c_due_on=Coalesce(F("due_on"), Value(local_date(shop, start))),
        c_attempts=Value(0),
        c_clicks=Value(0),
        c_error=Value(""),
        c_address=Value(""),
        c_text=Value(""),
    ).values_list(*(f"c_{c.removesuffix('_id')}" for c in MESSAGE_COLUMNS if c != "status"))


def _insert_sql(select: str) -> str:
    """The chunk's INSERT ... SELECT from `_rows`' query: the status follows from the reason outside the subquery,
    which a fence (OFFSET 0) keeps PostgreSQL from flattening, so that each member's classification (its subquery
    probes) is evaluated once, not once for the reason and again for the status."""
    outer = [
        f"CASE WHEN s.c_reason = '' THEN '{MessageStatus.QUEUED}' ELSE '{MessageStatus.SUPPRESSED}' END"
        if c == "status"
        else f"s.c_{c.removesuffix('_id')}"
        for c in MESSAGE_COLUMNS
    ]
    fence = " OFFSET 0" if connection.vendor == "postgresql" else " LIMIT -1 OFFSET 0"
    # WHERE true lets SQLite parse the ON CONFLICT after a SELECT.
    return (
        f"INSERT INTO campaigns_message ({', '.join(MESSAGE_COLUMNS)}) "  # noqa: S608
        f"SELECT {', '.join(outer)} FROM ({select}{fence}) AS s WHERE true "
        "ON CONFLICT (shop_id, campaign_id, member_id, occurrence) DO NOTHING"
    )


def snapshot_chunk(*, shop: Shop, campaign_id: int, chunk: int = CHUNK) -> bool:
    """Snapshot the next `chunk` members of the campaign's audience. Returns True when the snapshot is complete."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(shop=shop, pk=campaign_id)
        if campaign.snapshot_done or campaign.status == CampaignStatus.CANCELLED:
            return True
        settings = messaging_settings_get(shop=shop)
        start = campaign.started_at or timezone.now()
        members = audience_members(shop=shop, campaign=campaign).filter(pk__gt=campaign.snapshot_cursor)
        last = members.order_by("pk").values_list("pk", flat=True)[chunk - 1 : chunk].first()
        if last is not None:
            members = members.filter(pk__lte=last)
        budget_lock(shop)
        classification_plan()
        select, params = _rows(shop, campaign, settings, members, start).query.sql_with_params()
        with connection.cursor() as cursor:
            # The SELECT is the shop's members (member_filter names the shop).
            cursor.execute(_insert_sql(select), params)
        upper = last if last is not None else (1 << 62)
        _budget_count(shop, campaign, campaign.snapshot_cursor, upper)
        if campaign.coupon_template_id:
            _coupons_attach(shop, campaign, campaign.snapshot_cursor, upper, start)
        campaign.snapshot_cursor = upper if last is not None else campaign.snapshot_cursor
        campaign.snapshot_done = last is None
        campaign.save(update_fields=["snapshot_cursor", "snapshot_done", "coupon_counts", "updated_at"])
        return campaign.snapshot_done


def _budget_count(shop: Shop, campaign: Campaign, after: int, upto: int) -> None:
    """Count the chunk's queued messages against their members' budget of the due day."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO campaigns_contactcount (shop_id, member_id, day, count) "
            "SELECT shop_id, member_id, due_on, 1 FROM campaigns_message "
            "WHERE shop_id = %s AND campaign_id = %s AND member_id > %s AND member_id <= %s AND status = %s "
            "ON CONFLICT (shop_id, member_id, day) DO UPDATE SET count = campaigns_contactcount.count + 1",
            [shop.pk, campaign.pk, after, upto, MessageStatus.QUEUED],
        )


def budget_release(*, shop: Shop, campaign_id: int, message_ids: list[int] | None = None) -> None:
    """Give back the budget counted for messages that will never go: a cancelled campaign's queued rows, or
    (`message_ids`) rows suppressed at send time. Call it in the transaction that makes them so."""
    budget_lock(shop)
    where, params = "status = %s", [MessageStatus.QUEUED]
    if message_ids is not None:
        if not message_ids:
            return
        ids_sql, ids_params = in_condition("id", message_ids)
        where, params = ids_sql, ids_params
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_contactcount SET count = count - 1 "  # noqa: S608 - `where` is ours, values are params
            "WHERE shop_id = %s AND count > 0 AND (member_id, day) IN ("
            f"SELECT member_id, due_on FROM campaigns_message WHERE shop_id = %s AND campaign_id = %s AND {where})",
            [shop.pk, shop.pk, campaign_id, *params],
        )


def coupon_key_prefix(campaign: Campaign) -> str:
    return f"campaign#{campaign.pk}#"


def _coupons_attach(shop: Shop, campaign: Campaign, after: int, upto: int, now: datetime.datetime) -> None:
    """One coupon of the campaign's template for each queued member of the chunk, keyed by the message (campaign
    and member), set-based; what could not be issued is counted on the campaign, never skipped silently."""
    queued = Message.objects.filter(
        shop=shop, campaign=campaign, status=MessageStatus.QUEUED, member_id__gt=after, member_id__lte=upto
    )
    member_ids = list(queued.order_by("member_id").values_list("member_id", flat=True))
    if not member_ids:
        return
    counts = dict(campaign.coupon_counts or {})
    template = CouponTemplate.objects.get(shop=shop, pk=campaign.coupon_template_id)
    try:
        done = coupons_issue_bulk(
            shop=shop,
            template=template,
            member_ids=member_ids,
            key_prefix=coupon_key_prefix(campaign),
            source=Source.CAMPAIGN,
            now=now,
        )
    except NotIssuable:
        counts["not_issuable"] = counts.get("not_issuable", 0) + len(member_ids)
    else:
        for name in ("issued", "already", "skipped_audience", "skipped_limit", "skipped_stock", "skipped_inactive"):
            counts[name] = counts.get(name, 0) + getattr(done, name)
        key = Concat(Value(coupon_key_prefix(campaign)), Cast(OuterRef("member_id"), CharField()))
        queued.update(coupon_id=Subquery(Coupon.objects.filter(shop=shop, idempotency_key=key).values("pk")[:1]))
    campaign.coupon_counts = counts


def snapshot_run(*, shop: Shop, campaign_id: int, chunk: int = CHUNK) -> None:
    """The whole snapshot, chunk after chunk (the task's body)."""
    while not snapshot_chunk(shop=shop, campaign_id=campaign_id, chunk=chunk):
        pass
