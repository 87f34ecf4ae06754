"""Running journeys' steps (SPEC 13), batch by batch and set-based.

`automation_advance` takes an automation's active journeys whose next step is due, position by position, in
batches locked with FOR UPDATE SKIP LOCKED (two workers never take one journey), and runs the step for the whole
batch in the transaction that moves the journeys on:
- wait: the next step falls due so many days later, then at the next given hour of the shop's day;
- condition: journeys whose member no longer qualifies leave (`exited`);
- message: the qualifying check again, then one row per journey in the step's standing campaign
  (campaigns.Message, unique per campaign, member and occurrence: written once whatever re-runs), classified by the
  campaign rules (consent, frozen, no address, quiet hours, the contact budget; a transactional step is exempt
  from marketing consent, the budget and quiet hours); the campaign senders send them after commit;
- reward: a coupon, points or the tier's birthday gifts, keyed per step and journey (automation#<step>#<occurrence>#
  <member>), so a batch run again issues nothing twice.
After the last step a journey is `done`."""

import datetime
import logging
from collections import defaultdict

from django.db import connection, transaction
from django.db.models import CharField, F, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from campaigns.audience import Timing, classification_plan, classified, timing_plan
from campaigns.models import Campaign, MessageStatus
from campaigns.selectors import messaging_settings_get
from campaigns.snapshot import budget_lock
from campaigns.tasks import senders_start
from coupons.errors import NotIssuable
from coupons.issuance import coupons_issue_bulk
from coupons.models import Coupon, Source
from coupons.tier_gifts import tier_birthday_gifts_issue
from members.models import Member
from points.services import points_adjust
from shops.bulk import adapt
from shops.errors import ApplicationError
from shops.ids import parse_int
from shops.models import Shop
from shops.services import SYSTEM
from shops.time import local_date, shop_zone, wall_instant

from .conditions import still_qualifies
from .models import Automation, Journey, JourneyStatus, Step, StepKind

log = logging.getLogger(__name__)

BATCH = 5_000


def reward_key_prefix(step: Step, occurrence: str) -> str:
    return f"automation#{step.pk}#{occurrence}#"


def _due(shop: Shop, automation: Automation, position: int, now: datetime.datetime, limit: int) -> list[int]:
    return list(
        Journey.objects.select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked)
        .filter(shop=shop, automation=automation, status=JourneyStatus.ACTIVE, position=position, due_at__lte=now)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def _exit_unqualified(shop: Shop, automation: Automation, ids: list[int], now: datetime.datetime) -> list[int]:
    """Journeys of `ids` whose member no longer qualifies leave; returns the ids that stay."""
    journeys = Journey.objects.filter(shop=shop, pk__in=ids)
    member_ids = sorted(set(journeys.values_list("member_id", flat=True)))
    qualifies = still_qualifies(automation=automation, now=now, member_ids=member_ids)
    staying = set(journeys.filter(qualifies).values_list("pk", flat=True))
    leaving = [pk for pk in ids if pk not in staying]
    if leaving:
        journeys.filter(pk__in=leaving).update(status=JourneyStatus.EXITED, finished_at=now)
    return [pk for pk in ids if pk in staying]


def _wait_until(shop: Shop, step: Step, now: datetime.datetime) -> datetime.datetime:
    """When a journey that reaches the wait step now moves on."""
    if step.wait_hour is None:
        return now + datetime.timedelta(days=step.wait_days)
    day = local_date(shop, now) + datetime.timedelta(days=step.wait_days)
    at = wall_instant(shop_zone(shop), day, datetime.time(step.wait_hour))
    if at <= now:  # today's hour has passed: tomorrow's
        at = wall_instant(shop_zone(shop), day + datetime.timedelta(days=1), datetime.time(step.wait_hour))
    return at


def _timing(shop: Shop, campaign: Campaign, settings, now: datetime.datetime) -> Timing:
    if campaign.transactional:  # service messages go now, quiet hours or not
        return Timing({-1: (now, local_date(shop, now))})
    return timing_plan(shop=shop, campaign=campaign, settings=settings, start=now)


def _messages_write(shop: Shop, step: Step, ids: list[int], now: datetime.datetime) -> int:
    """One message row per journey of `ids` in the step's campaign, classified; counted against the contact budget
    when it is marketing. Returns the rows written."""
    campaign = Campaign.objects.get(shop=shop, pk=step.campaign_id)
    settings = messaging_settings_get(shop=shop)
    timing = _timing(shop, campaign, settings, now)
    journeys = Journey.objects.filter(shop=shop, pk__in=ids)
    members = Member.objects.filter(shop=shop, pk__in=journeys.values("member_id"))
    marketing = not campaign.transactional
    if marketing:
        budget_lock(shop)
    classification_plan()
    qs = classified(shop=shop, campaign=campaign, settings=settings, timing=timing, members=members, budget=marketing)
    qs = qs.annotate(c_member=F("pk"), c_reason=F("message_reason"), c_due_at=F("due_at"), c_due_on=F("due_on"))
    select, params = qs.values_list("c_member", "c_reason", "c_due_at", "c_due_on").query.sql_with_params()
    fallback = timing.by_hour[-1] or (now, local_date(shop, now))
    fence = " OFFSET 0" if connection.vendor == "postgresql" else " LIMIT -1 OFFSET 0"
    journey_ids = ", ".join(["%s"] * len(ids))
    queued, suppressed = MessageStatus.QUEUED, MessageStatus.SUPPRESSED
    sql = (
        "INSERT INTO campaigns_message (shop_id, campaign_id, member_id, occurrence, detail, coupon_id, channel, "  # noqa: S608
        "status, reason, due_at, due_on, attempts, clicks, error, address, text) "
        f"SELECT j.shop_id, %s, j.member_id, j.occurrence, j.detail, j.coupon_id, %s, "
        f"CASE WHEN s.c_reason = '' THEN '{queued}' ELSE '{suppressed}' END, s.c_reason, "
        "COALESCE(s.c_due_at, %s), COALESCE(s.c_due_on, %s), 0, 0, '', '', '' "
        f"FROM automations_journey j JOIN ({select}{fence}) AS s ON s.c_member = j.member_id "
        f"WHERE j.shop_id = %s AND j.id IN ({journey_ids}) "
        "ON CONFLICT (shop_id, campaign_id, member_id, occurrence) DO NOTHING"
    )
    with connection.cursor() as cursor:
        # Raw SQL gets the values as the ORM stores them (SQLite compares datetimes as text).
        fallback_values = [adapt(fallback[0], "datetime"), connection.ops.adapt_datefield_value(fallback[1])]
        cursor.execute(sql, [campaign.pk, campaign.channel, *fallback_values, *params, shop.pk, *ids])
        written = cursor.rowcount
        if marketing and written:
            cursor.execute(
                "INSERT INTO campaigns_contactcount (shop_id, member_id, day, count) "  # noqa: S608
                "SELECT m.shop_id, m.member_id, m.due_on, count(*) FROM campaigns_message m "
                "JOIN automations_journey j ON j.shop_id = m.shop_id AND j.member_id = m.member_id "
                "AND j.occurrence = m.occurrence "
                f"WHERE m.shop_id = %s AND m.campaign_id = %s AND m.status = %s AND j.id IN ({journey_ids}) "
                "GROUP BY m.shop_id, m.member_id, m.due_on "
                "ON CONFLICT (shop_id, member_id, day) DO UPDATE SET count = campaigns_contactcount.count + "
                "excluded.count",
                [shop.pk, campaign.pk, queued, *ids],
            )
    if written:
        transaction.on_commit(lambda: senders_start(shop.pk, campaign.pk))
    return written


def _rewards_give(shop: Shop, automation: Automation, step: Step, ids: list[int], now: datetime.datetime) -> None:
    """The step's reward for each journey of `ids`, keyed per step and journey; the journeys' coupon becomes the
    reward coupon, for the {coupon} of the messages that follow."""
    journeys = Journey.objects.filter(shop=shop, pk__in=ids)
    by_occurrence = defaultdict(list)
    for member_id, occurrence in journeys.order_by("member_id").values_list("member_id", "occurrence"):
        by_occurrence[occurrence].append(member_id)
    for occurrence, member_ids in by_occurrence.items():
        prefix = reward_key_prefix(step, occurrence)
        if step.coupon_template_id:
            try:
                coupons_issue_bulk(
                    shop=shop,
                    template=step.coupon_template,
                    member_ids=member_ids,
                    key_prefix=prefix,
                    source=Source.AUTOMATION,
                    now=now,
                )
            except NotIssuable:
                log.warning("automation %s step %s: coupon template not issuable", automation.pk, step.pk)
        if step.tier_birthday_gift and (year := parse_int(occurrence)) is not None:  # a birthday's occurrence: its year
            tier_birthday_gifts_issue(shop=shop, member_ids=member_ids, year=year, now=now)
        if step.points:
            _points_give(shop, automation, member_ids, step.points, prefix)
    if step.coupon_template_id:
        key = Concat(Value(f"automation#{step.pk}#"), F("occurrence"), Value("#"), Cast(F("member_id"), CharField()))
        coupon = Coupon.objects.filter(shop=shop, idempotency_key=OuterRef("reward_key")).values("pk")[:1]
        journeys.annotate(reward_key=key).update(coupon=Subquery(coupon))


def _points_give(shop: Shop, automation: Automation, member_ids: list[int], points: int, prefix: str) -> None:
    """Points through the ledger, one posting per member with its own key (a replay posts nothing). The ledger
    takes each member's row lock, hence one call per member: reward steps reach the members of one day's
    occurrence, a few thousand at most even in a 1M-member shop."""
    for member in Member.objects.filter(shop=shop, pk__in=member_ids).order_by("pk"):
        try:
            points_adjust(
                shop=shop,
                member=member,
                points=points,
                reason=automation.name,
                idempotency_key=f"{prefix}{member.pk}",
                actor=SYSTEM,
            )
        except ApplicationError as error:  # a balance limit: that member goes without, the others get theirs
            log.warning("automation %s: points for member %s refused: %s", automation.pk, member.pk, error)


def _move_on(shop: Shop, ids: list[int], position: int, last: int, due_at: datetime.datetime, now) -> None:
    journeys = Journey.objects.filter(shop=shop, pk__in=ids)
    if position >= last:
        journeys.update(status=JourneyStatus.DONE, position=position + 1, finished_at=now)
    else:
        journeys.update(position=position + 1, due_at=due_at)


def _run(shop: Shop, automation: Automation, step: Step | None, ids: list[int], last: int, now) -> None:
    if step is None:  # past the last step (its steps were shortened since it got there)
        Journey.objects.filter(shop=shop, pk__in=ids).update(status=JourneyStatus.DONE, finished_at=now)
        return
    due_at = now
    if step.kind == StepKind.WAIT:
        due_at = _wait_until(shop, step, now)
    elif step.kind in (StepKind.CONDITION, StepKind.MESSAGE):
        ids = _exit_unqualified(shop, automation, ids, now)
        if ids and step.kind == StepKind.MESSAGE and step.campaign_id:
            _messages_write(shop, step, ids, now)
    elif step.kind == StepKind.REWARD:
        _rewards_give(shop, automation, step, ids, now)
    if ids:
        _move_on(shop, ids, step.position, last, due_at, now)


def automation_advance(
    *, shop: Shop, automation: Automation, now: datetime.datetime | None = None, batch: int | None = None
) -> int:
    """Run the due steps of the automation's active journeys, position by position, a batch per transaction
    (a journey moved to a step due now runs it in the same call). Returns the steps run. Safe to run twice at
    once: the batches are locked."""
    now = now or timezone.now()
    batch = batch or BATCH
    steps = {step.position: step for step in Step.objects.filter(shop=shop, automation=automation)}
    last = max(steps, default=-1)
    ran = 0
    for position in range(last + 2):
        while True:
            with transaction.atomic():
                ids = _due(shop, automation, position, now, batch)
                if ids:
                    _run(shop, automation, steps.get(position), ids, last, now)
            ran += len(ids)
            if len(ids) < batch:
                break
    return ran
