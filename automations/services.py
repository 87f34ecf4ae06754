"""Writes on automations (SPEC 13): switching on and off, the editor's settings and steps, and survey answers.

Invariants: an automation's steps are numbered 0..n-1 without gaps (journeys keep their position); a message step's
content lives on its standing campaign, changed with it; a survey answer is one per order, and its compensation one
coupon per order whatever is submitted again (the coupon's key names the order)."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.links import link_target_check
from campaigns.models import Campaign, CampaignStatus, Channel
from campaigns.rules import AUTOMATION_PLACEHOLDERS, placeholders_check
from coupons.grants import coupon_grant_member
from coupons.models import CouponTemplate, Source
from members.models import Member
from orders.models import Order
from shops.errors import ApplicationError
from shops.models import Shop
from shops.services import SYSTEM, Actor, audit_record

from .models import LOW_SCORE, Automation, Reentry, Step, StepKind, SurveyAnswer


class InvalidAutomation(ApplicationError):
    code = "invalid_automation"


@transaction.atomic
def automation_switch(*, shop: Shop, automation: Automation, enabled: bool, actor: Actor) -> Automation:
    """Switch on or off. Off stops new entries and the steps of journeys under way (they carry on when on again)."""
    automation = Automation.objects.select_for_update().get(shop=shop, pk=automation.pk)
    if automation.enabled != enabled:
        automation.enabled = enabled
        automation.save(update_fields=["enabled", "updated_at"])
        audit_record(
            shop=shop, actor=actor, action="automation.switch", obj=automation,
            changes={"enabled": [str(not enabled), str(enabled)]},
        )  # fmt: skip
    return automation


@dataclass(frozen=True)
class StepInput:
    kind: str
    wait_days: int = 0
    wait_hour: int | None = None
    channel: str = Channel.SMS
    title: str = ""
    text: str = ""
    link_url: str = ""
    coupon_template: CouponTemplate | None = None
    points: int = 0
    tier_birthday_gift: bool = False


def _step_check(step: StepInput) -> None:
    if step.kind == StepKind.MESSAGE:
        if not step.text.strip():
            raise InvalidAutomation(_("A message step needs a text."))
        placeholders_check(step.text, AUTOMATION_PLACEHOLDERS)
        placeholders_check(step.title, AUTOMATION_PLACEHOLDERS)
        link_target_check(step.link_url)
    if step.kind == StepKind.REWARD and not (step.coupon_template or step.points or step.tier_birthday_gift):
        raise InvalidAutomation(_("A reward step gives a coupon, points or the tier's birthday gift."))
    if step.wait_hour is not None and not 0 <= step.wait_hour <= 23:
        raise InvalidAutomation(_("An hour of the day is 0 to 23."))


@transaction.atomic
def automation_update(
    *, shop: Shop, automation: Automation, fields: dict, steps: list[StepInput], actor: Actor
) -> Automation:
    """Save the editor: the settings in `fields` (name, days, reentry, reentry_days, holdout_percent,
    attribution_days, compensation_template) and the steps, in order. A message step keeps its standing campaign
    (the rows already written keep their text as sent). Raises InvalidAutomation, UnknownPlaceholder,
    UnbalancedBraces, InvalidLink; nothing is saved then."""
    automation = Automation.objects.select_for_update().get(shop=shop, pk=automation.pk)
    if fields.get("reentry", automation.reentry) not in Reentry.values:
        raise InvalidAutomation(_("Choose a re-entry rule."))
    for step in steps:
        _step_check(step)
    if not any(step.kind == StepKind.MESSAGE for step in steps) and not any(s.kind == StepKind.REWARD for s in steps):
        raise InvalidAutomation(_("An automation needs a message or a reward step."))
    before = {name: str(getattr(automation, name)) for name in fields}
    for name, value in fields.items():
        setattr(automation, name, value)
    automation.save()
    old = {step.position: step for step in Step.objects.filter(shop=shop, automation=automation)}
    spare = [old[p].campaign for p in sorted(old) if old[p].campaign_id]
    Step.objects.filter(shop=shop, automation=automation).delete()
    now = timezone.now()
    for position, step in enumerate(steps):
        campaign = None
        if step.kind == StepKind.MESSAGE:
            campaign = spare.pop(0) if spare else Campaign(
                shop=shop, holdout_percent=0, status=CampaignStatus.SENDING, standing=True, snapshot_done=True,
                started_at=now,
            )  # fmt: skip
            campaign.name = f"{automation.name} · {position + 1}"
            campaign.channel, campaign.title, campaign.text = step.channel, step.title, step.text
            campaign.link_url = step.link_url
            campaign.transactional = automation.transactional
            campaign.save()
        Step.objects.create(
            shop=shop, automation=automation, position=position, kind=step.kind, wait_days=step.wait_days,
            wait_hour=step.wait_hour, campaign=campaign, coupon_template=step.coupon_template, points=step.points,
            tier_birthday_gift=step.tier_birthday_gift,
        )  # fmt: skip
    after = {name: str(getattr(automation, name)) for name in fields}
    changes = {name: [before[name], after[name]] for name in fields if before[name] != after[name]}
    audit_record(shop=shop, actor=actor, action="automation.update", obj=automation, changes=changes)
    return automation


class SurveyClosed(ApplicationError):
    code = "survey_closed"


@transaction.atomic
def survey_answer(
    *, shop: Shop, automation: Automation, member: Member, order: Order, score: int, comment: str = ""
) -> SurveyAnswer:
    """Record the member's score (1-5) for the order: the first answer stands, a later one returns it unchanged.
    A score at or below LOW_SCORE gives one compensation coupon (the automation's), keyed by the order, and shows
    as an alert on the dashboard until reviewed. Raises InvalidAutomation for a score outside 1-5."""
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise InvalidAutomation(_("Choose a score from 1 to 5."), code="invalid_score")
    if order.member_id != member.pk:
        raise SurveyClosed(_("This survey is not yours."))
    answer, created = SurveyAnswer.objects.get_or_create(
        shop=shop, order=order, defaults={"member": member, "score": score, "comment": comment.strip()[:500]}
    )
    if created and score <= LOW_SCORE and automation.compensation_template_id:
        try:
            issued = coupon_grant_member(
                shop=shop,
                actor=SYSTEM,
                member=member,
                template=automation.compensation_template,
                source=Source.COMPENSATION,
                idempotency_key=f"survey#{order.pk}",
                note=_("Satisfaction survey: score %(score)s for order %(order)s")
                % {"score": score, "order": order.external_id},
            )
        except ApplicationError:  # the coupon is paused or sold out: the alert still tells staff to make it good
            return answer
        answer.compensation = issued.coupon
        answer.save(update_fields=["compensation"])
    return answer


def survey_answer_review(*, shop: Shop, answer: SurveyAnswer, actor: Actor) -> None:
    """Staff have seen a low score: it leaves the alert."""
    SurveyAnswer.objects.filter(shop=shop, pk=answer.pk, reviewed_at__isnull=True).update(reviewed_at=timezone.now())
