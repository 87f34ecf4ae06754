"""Reads of campaigns and their messages, each taking the shop."""

from django.db.models import Count, QuerySet

from shops.models import Shop

from .models import Campaign, CampaignStatus, Message, MessageStatus, MessagingSettings


def messaging_settings_get(*, shop: Shop) -> MessagingSettings:
    """The shop's messaging settings; the defaults (unsaved) when it has none."""
    return MessagingSettings.objects.filter(shop=shop).first() or MessagingSettings(shop=shop)


def campaign_list(*, shop: Shop) -> QuerySet[Campaign]:
    return Campaign.objects.filter(shop=shop).order_by("-created_at", "-id")


def campaign_get(*, shop: Shop, pk) -> Campaign:
    """Raises Campaign.DoesNotExist for a missing or another shop's id."""
    return Campaign.objects.get(shop=shop, pk=pk)


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


def member_messages(*, shop: Shop, member_id: int, limit: int = 50) -> QuerySet[Message]:
    """A member's campaign messages, newest first (the profile timeline and the member centre's inbox)."""
    return (
        Message.objects.filter(shop=shop, member_id=member_id)
        .select_related("campaign")
        .order_by("-due_at", "-id")[:limit]
    )


def campaign_messages(*, shop: Shop, campaign: Campaign) -> QuerySet[Message]:
    return Message.objects.filter(shop=shop, campaign=campaign)


def campaigns_due_all_shops(*, now) -> list[tuple[int, int]]:
    """(shop id, campaign id) of scheduled campaigns whose time has come, across shops (the tick; the caller lifts
    the scopes and handles each campaign in its own shop's scope)."""
    return list(Campaign.objects.filter(status=CampaignStatus.SCHEDULED, send_at__lte=now).values_list("shop_id", "pk"))


def campaigns_sending_all_shops() -> list[tuple[int, int]]:
    """(shop id, campaign id) of campaigns that are sending, across shops (the tick, as above)."""
    return list(Campaign.objects.filter(status=CampaignStatus.SENDING).values_list("shop_id", "pk"))
