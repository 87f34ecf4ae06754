"""Whether a journey's member still qualifies (SPEC 13: re-checked before every message and at condition steps),
as one condition over journeys, so that a step checks a whole batch in its UPDATE."""

import datetime

from django.db.models import Exists, F, OuterRef, Q

from analytics.models import MemberClv
from coupons.models import CouponStatus
from members.models import MemberStatus
from orders.models import COUNTED_STATUSES, OrderItem
from points.models import PointsLot

from .models import Automation, Trigger


def still_qualifies(*, automation: Automation, now: datetime.datetime, member_ids: list[int] | None = None) -> Q:
    """Journeys (of `automation`) whose member still qualifies at `now`:
    - every trigger: the member is active (not frozen, not erased);
    - win-back: no order since they entered;
    - points expiring: points still expiring within the automation's days (and one more, the day boundary);
    - coupons expiring: the coupon it is about is still unused and unexpired;
    - replenishment: no purchase in the category since they entered;
    - churn risk: the member's band is still high.
    The others (joined, tier, birthday, order care, survey) hold once started. `member_ids`, the batch's members,
    lets the lots be probed member by member (the index of open lots): as a correlated EXISTS the planner scanned
    every open lot of a large shop for each batch."""
    q = Q(member__status=MemberStatus.ACTIVE)
    window = now + datetime.timedelta(days=automation.days + 1)
    if automation.trigger == Trigger.WIN_BACK:
        q &= Q(member__last_order_at__isnull=True) | Q(member__last_order_at__lt=F("entered_at"))
    elif automation.trigger == Trigger.POINTS_EXPIRING:
        lots = PointsLot.objects.filter(
            shop=automation.shop_id, remaining__gt=0, expires_at__gt=now, expires_at__lte=window
        )
        if member_ids is not None:
            lots = lots.filter(member_id__in=member_ids)
        q &= Q(member_id__in=lots.values("member_id"))
    elif automation.trigger == Trigger.COUPONS_EXPIRING:
        q &= Q(coupon__status=CouponStatus.AVAILABLE, coupon__valid_until__gt=now)
    elif automation.trigger == Trigger.CHURN_RISK:
        high = MemberClv.objects.filter(shop=automation.shop_id, member=OuterRef("member"), churn_risk="high")
        q &= Exists(high)
    elif automation.trigger == Trigger.REPLENISHMENT:
        bought = OrderItem.objects.filter(
            shop=automation.shop_id,
            order__member=OuterRef("member"),
            category=OuterRef("subject"),
            order__paid_at__gte=OuterRef("entered_at"),
            order__status__in=COUNTED_STATUSES,
        )
        q &= ~Exists(bought)
    return q
