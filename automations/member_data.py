"""What automations know about a member, for the timeline and privacy export (MEMBER_DATA): their journeys."""

from django.utils.translation import gettext as _

from members.models import Member
from members.timeline import TimelineEvent
from shops.models import Shop

from .models import JourneyStatus
from .selectors import member_journeys


def timeline(*, shop: Shop, member: Member, limit: int) -> list[TimelineEvent]:
    statuses = dict(JourneyStatus.choices)
    return [
        TimelineEvent(
            at=journey.entered_at,
            kind="automation",
            title=_("Automation: %(name)s") % {"name": journey.automation.name},
            detail=str(statuses.get(journey.status, journey.status)),
        )
        for journey in member_journeys(shop=shop, member_id=member.pk, limit=limit)
    ]


def export(*, shop: Shop, member: Member) -> dict:
    journeys = member_journeys(shop=shop, member_id=member.pk, limit=None)
    return {
        "automation_journeys": [
            {
                "automation": j.automation.name,
                "occurrence": j.occurrence,
                "status": j.status,
                "entered_at": j.entered_at,
                "finished_at": j.finished_at,
            }
            for j in reversed(list(journeys))
        ]
    }
