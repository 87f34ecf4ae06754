"""Reads of campaigns and their messages, each taking the shop."""

import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django_scopes import scopes_disabled

from shops.models import Shop

from .models import Campaign, CampaignStatus, Channel, Message, MessageStatus, MessagingSettings


def messaging_settings_get(*, shop: Shop) -> MessagingSettings:
    """The shop's messaging settings; the defaults (unsaved) when it has none."""
    return MessagingSettings.objects.filter(shop=shop).first() or MessagingSettings(shop=shop)


def campaign_list(*, shop: Shop) -> QuerySet[Campaign]:
    """The merchant's campaigns (an automation's standing campaigns are its steps, shown with the automation)."""
    return Campaign.objects.filter(shop=shop, standing=False).order_by("-created_at", "-id")


def campaigns_with_figures(*, shop: Shop) -> QuerySet[Campaign]:
    """campaign_list with each campaign's `audience_n` (message rows), `sent_n` (sent or delivered) and
    `clicked_n`: one counting subquery each over the campaign's rows (the index message_campaign_status), for the
    list page's few campaigns."""

    def counted(condition: Q | None = None):
        rows = Message.objects.filter(condition or Q(), shop=shop, campaign=OuterRef("pk")).order_by()
        return Coalesce(Subquery(rows.values("campaign").annotate(n=Count("pk")).values("n")), 0)

    return campaign_list(shop=shop).annotate(
        audience_n=counted(),
        sent_n=counted(Q(status__in=[MessageStatus.SENT, MessageStatus.DELIVERED])),
        clicked_n=counted(Q(clicked_at__isnull=False)),
    )


def campaign_get(*, shop: Shop, pk, standing: bool = False) -> Campaign:
    """A campaign of the merchant's; with `standing`, an automation's standing campaign too (the senders).
    Raises Campaign.DoesNotExist for a missing or another shop's id."""
    campaigns = Campaign.objects.filter(shop=shop)
    return campaigns.get(pk=pk) if standing else campaigns.get(pk=pk, standing=False)


def campaign_counts(*, shop: Shop, campaign: Campaign) -> dict:
    """Messages by status and suppression reason, with the audience, clicks and what is outstanding: one GROUP BY
    over the campaign's rows (the index message_campaign_status)."""
    rows = (
        Message.objects.filter(shop=shop, campaign=campaign)
        .order_by()
        .values("status", "reason")
        .annotate(n=Count("pk"))
    )
    by_status = dict.fromkeys(MessageStatus.values, 0)
    suppressed: dict[str, int] = {}
    for row in rows:
        by_status[row["status"]] += row["n"]
        if row["status"] == MessageStatus.SUPPRESSED:
            suppressed[row["reason"]] = suppressed.get(row["reason"], 0) + row["n"]
    clicked = Message.objects.filter(shop=shop, campaign=campaign, clicked_at__isnull=False).count()
    holdout = suppressed.get("holdout", 0)
    return {
        "audience": sum(by_status.values()),
        "suppressed": suppressed,
        "holdout": holdout,
        "queued": by_status[MessageStatus.QUEUED] + by_status[MessageStatus.SENDING],
        # Delivered messages were sent first: "sent" counts both, as a funnel reads.
        "sent": by_status[MessageStatus.SENT] + by_status[MessageStatus.DELIVERED],
        "delivered": by_status[MessageStatus.DELIVERED],
        "failed": by_status[MessageStatus.FAILED],
        "clicked": clicked,
    }


def member_messages(*, shop: Shop, member_id: int, limit: int | None = 50) -> QuerySet[Message]:
    """A member's campaign messages, newest first (the profile timeline, the member centre's inbox; limit None: all)."""
    return (
        Message.objects.filter(shop=shop, member_id=member_id)
        .select_related("campaign")
        .order_by("-due_at", "-id")[:limit]
    )


def campaign_messages(*, shop: Shop, campaign: Campaign) -> QuerySet[Message]:
    return Message.objects.filter(shop=shop, campaign=campaign)


def campaigns_due_all_shops(*, now: datetime.datetime) -> list[tuple[int, int]]:
    """(shop id, campaign id) of every shop's scheduled campaigns whose time has come: the minute tick's work,
    across shops by design (each is then started in its own shop's scope)."""
    with scopes_disabled():
        due = Campaign.objects.filter(status=CampaignStatus.SCHEDULED, send_at__lte=now)
        return list(due.values_list("shop_id", "pk"))


def campaigns_sending_all_shops(*, now: datetime.datetime) -> list[tuple[int, int]]:
    """(shop id, campaign id) of every shop's campaigns on their way (the tick), across shops by design: the
    merchant's sending campaigns, and the standing ones (automation steps) with a message due or being sent."""
    with scopes_disabled():
        work = Message.objects.filter(
            shop=OuterRef("shop"), campaign=OuterRef("pk"), status=MessageStatus.QUEUED, due_at__lte=now
        )
        sending = Message.objects.filter(shop=OuterRef("shop"), campaign=OuterRef("pk"), status=MessageStatus.SENDING)
        campaigns = Campaign.objects.filter(status=CampaignStatus.SENDING).filter(
            Q(standing=False) | Exists(work) | Exists(sending)
        )
        return list(campaigns.values_list("shop_id", "pk"))


def message_of_link(*, shop: Shop, pk: int) -> Message:
    """The message a tracked link names (the token already checked), with its campaign and member. Raises
    Message.DoesNotExist for a missing or another shop's id."""
    return Message.objects.select_related("campaign", "member").get(shop=shop, pk=pk)


def _inbox(shop: Shop, member_id: int) -> QuerySet[Message]:
    return Message.objects.filter(
        shop=shop, member_id=member_id, channel=Channel.IN_APP, status=MessageStatus.DELIVERED
    )


def inbox_messages(*, shop: Shop, member_id: int, limit: int = 50) -> QuerySet[Message]:
    """The member's in-app messages as the inbox lists them: delivered ones, newest first, with their campaign
    (the title). The index message_member_time serves the order."""
    return _inbox(shop, member_id).select_related("campaign").order_by("-due_at", "-id")[:limit]


def inbox_unread_count(*, shop: Shop, member_id: int) -> int:
    """Delivered in-app messages the member has not seen in the inbox yet (the badge on the member card)."""
    return _inbox(shop, member_id).filter(read_at__isnull=True).count()
