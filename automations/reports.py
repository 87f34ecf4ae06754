"""An automation's results (SPEC 13): like a campaign's report, for the members who entered in a period, the
treated against the held out, each member followed for the attribution window after they entered: conversion
(ordered), orders and revenue per member, with the difference's 95% confidence interval (campaigns.stats); the
messages by outcome; and entries week by week for the chart."""

import datetime

from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from campaigns.models import MessageStatus
from campaigns.reports import group_figures, uplift_estimates
from orders.models import COUNTED_STATUSES
from shops.bulk import adapt
from shops.models import Shop
from shops.time import shop_zone

from .models import Automation, Journey, JourneyStatus, Step


def _window_end(automation: Automation) -> str:
    """The end of a journey's attribution window in SQL (the days are an integer of ours)."""
    days = int(automation.attribution_days)
    if connection.vendor == "postgresql":
        return f"j.entered_at + interval '{days} days'"
    return f"datetime(j.entered_at, '+{days} days')"


def _group(shop: Shop, automation: Automation, holdout: bool, since: datetime.datetime) -> dict:
    """Members who entered since `since` (treated: not held out), and what they ordered within the window."""
    statuses = ", ".join(["%s"] * len(COUNTED_STATUSES))
    held = "=" if holdout else "<>"
    sql = (
        "SELECT count(*), coalesce(sum(CASE WHEN t.orders > 0 THEN 1 ELSE 0 END), 0), coalesce(sum(t.orders), 0), "  # noqa: S608
        "coalesce(sum(t.sales), 0), coalesce(sum(t.sales * t.sales), 0) FROM ("
        "SELECT j.id, count(o.id) AS orders, coalesce(sum(o.amount - o.refunded_amount), 0) AS sales "
        "FROM automations_journey j LEFT JOIN orders_order o ON o.shop_id = j.shop_id AND o.member_id = j.member_id "
        f"AND o.status IN ({statuses}) AND o.paid_at >= j.entered_at AND o.paid_at < {_window_end(automation)} "
        f"WHERE j.shop_id = %s AND j.automation_id = %s AND j.entered_at >= %s AND j.status {held} %s "
        "GROUP BY j.id) AS t"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [*COUNTED_STATUSES, shop.pk, automation.pk, adapt(since, "datetime"), JourneyStatus.HOLDOUT]
        )
        n, converted, orders, total, squares = cursor.fetchone()
    return group_figures(int(n), converted, orders, total, squares)


def automation_messages(*, shop: Shop, automation: Automation) -> dict[str, int]:
    """The automation's messages by outcome, over its message steps' campaigns."""
    from campaigns.models import Message

    campaigns = Step.objects.filter(shop=shop, automation=automation, campaign__isnull=False).values("campaign_id")
    counts = Message.objects.filter(shop=shop, campaign_id__in=campaigns).aggregate(
        total=Count("pk"),
        sent=Count("pk", filter=Q(status__in=[MessageStatus.SENT, MessageStatus.DELIVERED])),
        delivered=Count("pk", filter=Q(status=MessageStatus.DELIVERED)),
        suppressed=Count("pk", filter=Q(status=MessageStatus.SUPPRESSED)),
        failed=Count("pk", filter=Q(status=MessageStatus.FAILED)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
    )
    return counts


def automation_report(*, shop: Shop, automation: Automation, days: int = 90, now=None) -> dict:
    """Results of the members who entered in the last `days` days."""
    now = now or timezone.now()
    since = now - datetime.timedelta(days=days)
    treated, held = _group(shop, automation, False, since), _group(shop, automation, True, since)
    estimates = uplift_estimates(treated, held)
    journeys = Journey.objects.filter(shop=shop, automation=automation, entered_at__gte=since)
    weekly = list(
        journeys.annotate(week=TruncWeek("entered_at", tzinfo=shop_zone(shop)))
        .values("week")
        .annotate(entered=Count("pk"), held=Count("pk", filter=Q(status=JourneyStatus.HOLDOUT)))
        .order_by("week")
    )
    by_status = dict(journeys.values_list("status").annotate(n=Count("pk")).order_by())
    return {
        "days": days,
        "journeys": {status: by_status.get(status, 0) for status in JourneyStatus.values},
        "messages": automation_messages(shop=shop, automation=automation),
        "treated": treated,
        "holdout": held,
        **estimates,
        "weekly": [
            {
                "week": row["week"].date().isoformat() if hasattr(row["week"], "date") else str(row["week"]),
                "entered": row["entered"],
                "held": row["held"],
            }
            for row in weekly
        ],  # fmt: skip
    }
