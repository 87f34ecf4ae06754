"""Who a campaign reaches and why not (SPEC 12): the audience as a member filter, and each member classified as
`queued` or `suppressed` with a reason, in one SQL query over the members. The snapshot writes that query's rows
(INSERT ... SELECT), and the editor's live count groups them, so the count approved is the count sent.

Timing: every member's message is due at one instant (now or the scheduled time), or at the member's own active
hour (the local hour at which they pay most often; the shop's fallback hour without orders) within the 24 hours
after the start. Quiet hours move a due instant to the window's end, or drop the message, as the campaign says.

Reasons, first match wins: erased, frozen, no_address (no phone; no active device for push), unsubscribed (consent
withdrawn), no_consent (never given), holdout, quiet_hours (dropped), capped (the contact budget of the due day:
`daily_cap` that day, `weekly_cap` in the 7 days ending that day). Holdout comes before the budget so that a
held-out member uses none of it, and after consent so that treated and held-out members are alike."""

import datetime
from dataclasses import dataclass

from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractHour, Mod
from django.utils.translation import gettext as _

from members.filters import FILTER_KEYS, member_filter
from members.models import ConsentChange, Device, Member, MemberStatus, Segment, Tag
from orders.models import Order
from shops.errors import ApplicationError
from shops.ids import parse_id
from shops.models import Shop
from shops.time import QuietHours, as_local, local_date, shop_zone, wall_instant

from .models import Campaign, Channel, ContactCount, MessagingSettings, QuietHoursPolicy, Reason

HOLDOUT_STEP = 3779  # moves the held-out bucket range from one campaign to the next (prime to 10,000)
CONSENT_FIELD = {Channel.SMS: "consent_sms", Channel.PUSH: "consent_push"}  # in-app needs no marketing consent


class InvalidAudience(ApplicationError):
    code = "invalid_audience"


def audience_definition(*, shop: Shop, audience: dict) -> dict:
    """The member filter (members.filters) of an audience: {"segment_id"}, {"tag"} (a name or an id) or
    {"filter"}. Raises InvalidAudience, naming what is wrong."""
    if not isinstance(audience, dict) or len(audience) != 1:
        raise InvalidAudience(_("Choose one audience: a segment, a tag or a filter."))
    ((kind, value),) = audience.items()
    if kind == "segment_id":
        try:
            return Segment.objects.get(shop=shop, pk=int(value)).definition
        except (TypeError, ValueError, OverflowError, Segment.DoesNotExist):
            raise InvalidAudience(_("There is no such segment."), details={"segment_id": value}) from None
    if kind == "tag":
        tags = Tag.objects.filter(shop=shop)
        tag = tags.filter(name=str(value)).first()
        if tag is None and (tag_id := parse_id(str(value))) is not None:
            tag = tags.filter(pk=tag_id).first()
        if tag is None:
            raise InvalidAudience(_("There is no such tag."), details={"tag": value})
        return {"tags_any": [tag.pk]}
    if kind == "filter":
        if not isinstance(value, dict):
            raise InvalidAudience(_("A filter is an object of conditions."))
        if unknown := sorted(set(value) - FILTER_KEYS):
            # member_filter ignores keys it does not know: a misspelt condition would reach every member.
            raise InvalidAudience(
                _("Unknown filter conditions: %(keys)s.") % {"keys": ", ".join(unknown)}, details={"unknown": unknown}
            )
        member_filter(shop=shop, definition=value)  # raises InvalidFilter on a bad condition
        return value
    raise InvalidAudience(_("Choose one audience: a segment, a tag or a filter."), details={"audience": kind})


def audience_members(*, shop: Shop, campaign: Campaign) -> QuerySet[Member]:
    """The campaign's audience: the filter's members (never the erased, who are no longer anyone to message; a
    member erased after the snapshot is suppressed as `erased` at send time)."""
    return member_filter(shop=shop, definition=audience_definition(shop=shop, audience=campaign.audience))


@dataclass(frozen=True)
class Timing:
    """When each member's message is due: `by_hour` maps a member's active hour (0-23) to (due instant, local
    day), or None when quiet hours drop it; a single-instant campaign has one entry under key -1."""

    by_hour: dict[int, tuple[datetime.datetime, datetime.date] | None]

    @property
    def per_member(self) -> bool:
        return -1 not in self.by_hour

    @property
    def days(self) -> set[datetime.date]:
        return {slot[1] for slot in self.by_hour.values() if slot}


def quiet_hours_of(settings: MessagingSettings) -> QuietHours:
    return QuietHours(settings.quiet_start, settings.quiet_end)


def timing_plan(*, shop: Shop, campaign: Campaign, settings: MessagingSettings, start: datetime.datetime) -> Timing:
    """The due instants of a campaign started at `start`, quiet hours applied."""
    quiet = quiet_hours_of(settings)

    def slot(moment: datetime.datetime) -> tuple[datetime.datetime, datetime.date] | None:
        if quiet.contains(shop, moment):
            if campaign.quiet_hours == QuietHoursPolicy.DROP:
                return None
            moment = quiet.next_end(shop, moment)
        return moment, local_date(shop, moment)

    if not campaign.send_at_active_hour:
        return Timing({-1: slot(max(start, campaign.send_at or start))})
    local_start = as_local(shop, start)
    plan = {}
    for hour in range(24):
        day = local_start.date() + datetime.timedelta(days=0 if hour >= local_start.hour else 1)
        moment = max(start, wall_instant(shop_zone(shop), day, datetime.time(hour)))
        plan[hour] = slot(moment)
    return Timing(plan)


def _active_hour(shop: Shop, fallback: int):
    """The local hour at which the member pays most often (ties: the earliest), or `fallback`."""
    hours = (
        Order.objects.filter(shop=shop, member=OuterRef("pk"))
        .annotate(hour=ExtractHour("paid_at", tzinfo=shop_zone(shop)))
        .values("hour")
        .annotate(n=Count("pk"))
        .order_by("-n", "hour")
        .values("hour")[:1]
    )
    return Coalesce(Subquery(hours, output_field=IntegerField()), Value(fallback))


def _by_hour(timing: Timing, index: int, output_field):
    return Case(
        *(When(active_hour=h, then=Value(slot[index] if slot else None)) for h, slot in timing.by_hour.items()),
        default=Value(None),
        output_field=output_field,
    )


def _budget_used(shop: Shop, day: datetime.date, days: int):
    counts = (
        ContactCount.objects.filter(
            shop=shop, member=OuterRef("pk"), day__gt=day - datetime.timedelta(days=days), day__lte=day
        )
        .order_by()
        .values("member")
        .annotate(n=Sum("count"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))


def _over_budget(shop: Shop, timing: Timing, settings: MessagingSettings) -> Q:
    """Members whose due day's budget is spent."""
    over = Q(pk__in=[])
    for day in sorted(timing.days):
        daily, weekly = f"used_{day:%Y%m%d}_1", f"used_{day:%Y%m%d}_7"
        over |= Q(due_on=day) & (
            Q(**{f"{daily}__gte": settings.daily_cap}) | Q(**{f"{weekly}__gte": settings.weekly_cap})
        )
    return over


def classified(
    *, shop: Shop, campaign: Campaign, settings: MessagingSettings, timing: Timing, members: QuerySet[Member]
) -> QuerySet[Member]:
    """`members` annotated with `message_status`, `message_reason`, `due_at` and `due_on` (module docstring)."""
    qs = members
    if timing.per_member:
        qs = qs.annotate(active_hour=_active_hour(shop, settings.fallback_hour))
        qs = qs.annotate(due_at=_by_hour(timing, 0, DateTimeField()), due_on=_by_hour(timing, 1, DateField()))
    else:
        only = timing.by_hour[-1]
        qs = qs.annotate(
            due_at=Value(only[0] if only else None, output_field=DateTimeField()),
            due_on=Value(only[1] if only else None, output_field=DateField()),
        )
    for day in timing.days:
        qs = qs.annotate(
            **{f"used_{day:%Y%m%d}_1": _budget_used(shop, day, 1), f"used_{day:%Y%m%d}_7": _budget_used(shop, day, 7)}
        )
    offset = (campaign.pk or 0) * HOLDOUT_STEP % 10_000
    qs = qs.annotate(holdout_position=Mod(Value(offset) + F("bucket"), Value(10_000)))
    rules = [
        When(status=MemberStatus.ERASED, then=Value(Reason.ERASED)),
        When(status=MemberStatus.FROZEN, then=Value(Reason.FROZEN)),
    ]
    if campaign.channel == Channel.SMS:
        rules.append(When(phone="", then=Value(Reason.NO_ADDRESS)))
    elif campaign.channel == Channel.PUSH:
        devices = Device.objects.filter(shop=shop, member=OuterRef("pk"), is_active=True)
        rules.append(When(~Exists(devices), then=Value(Reason.NO_ADDRESS)))
    if consent := CONSENT_FIELD.get(campaign.channel):
        # Unsubscribed: consent given once and withdrawn since; a member who declined at enrolment (a refusal is
        # recorded as a change too) or never said anything has no consent, which is not an unsubscription.
        given = ConsentChange.objects.filter(shop=shop, member=OuterRef("pk"), channel=campaign.channel, granted=True)
        rules.append(When(Q(**{consent: False}) & Exists(given), then=Value(Reason.UNSUBSCRIBED)))
        rules.append(When(**{consent: False}, then=Value(Reason.NO_CONSENT)))
    rules.append(When(holdout_position__lt=campaign.holdout_percent * 100, then=Value(Reason.HOLDOUT)))
    rules.append(When(due_at__isnull=True, then=Value(Reason.QUIET_HOURS)))
    rules.append(When(_over_budget(shop, timing, settings), then=Value(Reason.CAPPED)))
    qs = qs.annotate(message_reason=Case(*rules, default=Value(""), output_field=CharField()))
    return qs.annotate(
        message_status=Case(
            When(message_reason="", then=Value("queued")), default=Value("suppressed"), output_field=CharField()
        )
    )


def audience_preview(*, shop: Shop, campaign: Campaign, settings: MessagingSettings, start: datetime.datetime) -> dict:
    """Who would get the message if it went at `start`, and who would not and why, without writing anything: the
    snapshot's classification grouped in one query. {"audience", "queued", "suppressed": {reason: n}}."""
    timing = timing_plan(shop=shop, campaign=campaign, settings=settings, start=start)
    members = audience_members(shop=shop, campaign=campaign)
    rows = (
        classified(shop=shop, campaign=campaign, settings=settings, timing=timing, members=members)
        .order_by()
        .values("message_reason")
        .annotate(n=Count("pk"))
    )
    suppressed = {row["message_reason"]: row["n"] for row in rows if row["message_reason"]}
    queued = sum(row["n"] for row in rows if not row["message_reason"])
    return {"audience": queued + sum(suppressed.values()), "queued": queued, "suppressed": suppressed}
