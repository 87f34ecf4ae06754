"""Reads of automations, their journeys and survey answers, each taking the shop."""

import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_scopes import scopes_disabled

from campaigns.models import Message
from orders.models import Order
from shops.ids import parse_id
from shops.models import Shop

from .models import LOW_SCORE, Automation, Journey, JourneyStatus, Step, SurveyAnswer


def automation_list(*, shop: Shop) -> QuerySet[Automation]:
    """The shop's automations with `entered_n` (journeys, held-out ones included) and `holdout_n`: a counting
    subquery each (a GROUP BY over the automation would need every column: its key is (shop_id, id))."""

    def counted(condition: Q | None = None):
        rows = Journey.objects.filter(shop=shop, automation=OuterRef("pk"))
        if condition is not None:
            rows = rows.filter(condition)
        return Coalesce(Subquery(rows.order_by().values("automation").annotate(n=Count("pk")).values("n")), 0)

    return (
        Automation.objects.filter(shop=shop)
        .annotate(entered_n=counted(), holdout_n=counted(Q(status=JourneyStatus.HOLDOUT)))
        .order_by("pk")
    )


def automation_get(*, shop: Shop, pk) -> Automation:
    """Raises Automation.DoesNotExist for a missing or another shop's id."""
    return Automation.objects.get(shop=shop, pk=pk)


def automation_steps(*, shop: Shop, automation: Automation) -> list[Step]:
    return list(
        Step.objects.filter(shop=shop, automation=automation)
        .select_related("campaign", "coupon_template")
        .order_by("position")
    )


def automations_with_due_steps(*, shop: Shop, now: datetime.datetime | None = None) -> list[Automation]:
    """The shop's switched-on automations with a journey whose next step is due."""
    now = now or timezone.now()
    due = Journey.objects.filter(shop=shop, automation=OuterRef("pk"), status=JourneyStatus.ACTIVE, due_at__lte=now)
    return list(Automation.objects.filter(shop=shop, enabled=True).filter(Exists(due)).order_by("pk"))


def shops_with_due_steps_all_shops(*, now: datetime.datetime | None = None) -> list[int]:
    """The shops with an active journey whose next step is due (the minute tick), across shops by design (the
    index journey_active_due)."""
    now = now or timezone.now()
    with scopes_disabled():
        due = Journey.objects.filter(status=JourneyStatus.ACTIVE, due_at__lte=now, automation__enabled=True)
        return sorted(set(due.values_list("shop_id", flat=True)))


def member_journeys(*, shop: Shop, member_id: int, limit: int | None = 50) -> QuerySet[Journey]:
    """A member's journeys, newest first (the profile timeline; limit None: all)."""
    return (
        Journey.objects.filter(shop=shop, member_id=member_id)
        .select_related("automation")
        .order_by("-entered_at", "-pk")[:limit]
    )


def survey_answers(*, shop: Shop) -> QuerySet[SurveyAnswer]:
    return SurveyAnswer.objects.filter(shop=shop).select_related("member", "order", "compensation")


def survey_alerts_count(*, shop: Shop) -> int:
    """Low scores that no staff member has reviewed yet (the dashboard's alert)."""
    return SurveyAnswer.objects.filter(shop=shop, score__lte=LOW_SCORE, reviewed_at__isnull=True).count()


def survey_of_message(*, shop: Shop, message: Message) -> tuple[Automation, Order] | None:
    """The survey automation and the order a message of its (through its tracked link) asks about, or None when
    the message is not a survey's."""
    step = Step.objects.filter(shop=shop, campaign_id=message.campaign_id).select_related("automation").first()
    if step is None or step.automation.trigger != "survey":
        return None
    journey = Journey.objects.filter(
        shop=shop, automation=step.automation, member_id=message.member_id, occurrence=message.occurrence
    ).first()
    order_id = parse_id(journey.subject) if journey else None
    if order_id is None:
        return None
    order = Order.objects.filter(shop=shop, pk=order_id, member_id=message.member_id).first()
    return (step.automation, order) if order else None


def survey_answer_of(*, shop: Shop, order_id: int) -> SurveyAnswer | None:
    return SurveyAnswer.objects.filter(shop=shop, order_id=order_id).first()
