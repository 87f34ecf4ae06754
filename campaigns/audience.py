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

from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    Max,
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


def _budget_spent(shop: Shop, day: datetime.date, settings: MessagingSettings) -> Exists:
    """Whether a member's contact budget of `day` is spent: `daily_cap` messages counted that day, or `weekly_cap`
    in the 7 days ending that day. One correlated probe of the member's week (index contact_count_per_day) answers
    both caps (two sums cost twice the probes: at 1M members the probes are most of the classification's time)."""
    week = (
        ContactCount.objects.filter(
            shop=shop, member=OuterRef("pk"), day__gt=day - datetime.timedelta(days=7), day__lte=day
        )
        .order_by()
        .values("member")
        .annotate(on_day=Coalesce(Sum("count", filter=Q(day=day)), 0), in_week=Sum("count"))
        .filter(Q(on_day__gte=settings.daily_cap) | Q(in_week__gte=settings.weekly_cap))
    )
    return Exists(week)


def _over_budget(shop: Shop, timing: Timing, settings: MessagingSettings) -> Q:
    """Members whose due day's budget is spent."""
    over = Q(pk__in=[])
    for day in sorted(timing.days):
        over |= Q(due_on=day) & Q(_budget_spent(shop, day, settings))
    return over


def classified(
    *,
    shop: Shop,
    campaign: Campaign,
    settings: MessagingSettings,
    timing: Timing,
    members: QuerySet[Member],
    budget: bool = True,
) -> QuerySet[Member]:
    """`members` annotated with `message_reason` ("" for a queued message), `due_at` and `due_on` (module
    docstring). `budget=False` leaves the contact budget out (`capped` members read as queued)."""
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
    if campaign.transactional:
        # Service messages need no marketing consent; an explicit opt-out of them is final (SPEC 13, order care).
        rules.append(When(consent_service=False, then=Value(Reason.UNSUBSCRIBED)))
    elif consent := CONSENT_FIELD.get(campaign.channel):
        # Unsubscribed: consent given once and withdrawn since; a member who declined at enrolment (a refusal is
        # recorded as a change too) or never said anything has no consent, which is not an unsubscription.
        given = ConsentChange.objects.filter(shop=shop, member=OuterRef("pk"), channel=campaign.channel, granted=True)
        rules.append(When(Q(**{consent: False}) & Exists(given), then=Value(Reason.UNSUBSCRIBED)))
        rules.append(When(**{consent: False}, then=Value(Reason.NO_CONSENT)))
    rules.append(When(holdout_position__lt=campaign.holdout_percent * 100, then=Value(Reason.HOLDOUT)))
    rules.append(When(due_at__isnull=True, then=Value(Reason.QUIET_HOURS)))
    if budget:
        rules.append(When(_over_budget(shop, timing, settings), then=Value(Reason.CAPPED)))
    # The status follows from the reason (queued when there is none); a second annotation referring to this one
    # would repeat the whole expression, its subqueries included, in the SQL.
    return qs.annotate(message_reason=Case(*rules, default=Value(""), output_field=CharField()))


def classification_plan() -> None:
    """Plan the classifying statements of this transaction without JIT compilation (PostgreSQL). Their planned cost
    is mostly the per-member subquery probes, which puts it past the JIT thresholds at any size that matters; the
    compilation then cost about 0.8 s per 50,000-member snapshot chunk and up to 1.4 s for a 1M-member preview,
    and speeds up nothing (the probes are index lookups). See docs/benchmarks.md, issue 18."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # tenant-ok: a setting of this transaction, no rows


def _over_budget_members(shop: Shop, timing: Timing, settings: MessagingSettings) -> QuerySet:
    """The ids of members whose budget is spent on one of the due days (a superset when there are two days: the
    classification then decides), from the contact counts alone: the few to classify with the budget."""
    days = sorted(timing.days)
    window = ContactCount.objects.filter(shop=shop, day__gt=days[0] - datetime.timedelta(days=7), day__lte=days[-1])
    return (
        window.order_by()
        .values("member")
        .annotate(top=Max("count", filter=Q(day__in=days)), total=Sum("count"))
        .filter(Q(top__gte=settings.daily_cap) | Q(total__gte=settings.weekly_cap))
        .values("member")
    )


def _count_by_reason(qs: QuerySet[Member]) -> dict[str, int]:
    """Members of the classified `qs` by reason, in one pass without a sort: the planner cannot tell that the
    reasons are a handful, so a GROUP BY over them sorted a million rows (half a second, spilling to disk at 1M
    members); counts with a FILTER per reason aggregate as they read."""
    select, params = qs.order_by().values_list("message_reason").query.sql_with_params()
    reasons = ["", *Reason.values]
    columns = ", ".join("count(*) FILTER (WHERE s.message_reason = %s)" for _ in reasons)
    # OFFSET 0 keeps the inner SELECT a subquery on PostgreSQL, so each member's reason is computed once, not once
    # per FILTER (SQLite wants a LIMIT before it).
    fence = "OFFSET 0" if connection.vendor == "postgresql" else "LIMIT -1 OFFSET 0"
    with connection.cursor() as cursor:
        # tenant-ok: the inner SELECT is the shop's members (member_filter names the shop)
        cursor.execute(f"SELECT {columns} FROM ({select} {fence}) AS s", [*reasons, *params])  # noqa: S608
        row = cursor.fetchone()
    return {reason: n for reason, n in zip(reasons, row, strict=True) if n}


def audience_preview(*, shop: Shop, campaign: Campaign, settings: MessagingSettings, start: datetime.datetime) -> dict:
    """Who would get the message if it went at `start`, and who would not and why, without writing anything: the
    snapshot's classification, counted. {"audience", "queued", "suppressed": {reason: n}}.

    In two queries, so that the contact budget is probed only for members who have used some of it: the whole
    audience is counted by reason without the budget, then the members with contact counts in the budget's days
    (a few, next to a 1M audience) are classified with it, and those capped move from queued to `capped`. One
    query probing every member's week took 1.8-2.3 s at 1M members (docs/benchmarks.md, issue 18)."""
    timing = timing_plan(shop=shop, campaign=campaign, settings=settings, start=start)
    members = audience_members(shop=shop, campaign=campaign)
    common = {"shop": shop, "campaign": campaign, "settings": settings, "timing": timing}
    with transaction.atomic():
        classification_plan()
        counts = _count_by_reason(classified(members=members, budget=False, **common))
        capped = 0
        if timing.days:
            capped = (
                classified(members=members.filter(pk__in=_over_budget_members(shop, timing, settings)), **common)
                .filter(message_reason=Reason.CAPPED)
                .count()
            )
    suppressed = {reason: n for reason, n in counts.items() if reason}
    if capped:
        suppressed[Reason.CAPPED] = capped
    queued = counts.get("", 0) - capped
    return {"audience": queued + sum(suppressed.values()), "queued": queued, "suppressed": suppressed}
