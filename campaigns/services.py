"""Campaign writes: drafts, the lifecycle (SPEC 12: draft, scheduled, sending, paused, done, cancelled) and the
test send. The snapshot (campaigns.snapshot) and the senders (campaigns.sending) run in tasks queued after commit.

    draft --send--> scheduled (send_at ahead) --beat at send_at--> sending --all settled--> done
    draft --send--> sending;   sending <--pause/resume--> paused;   any but done --cancel--> cancelled
"""

import datetime
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons.models import CouponTemplate
from shops.errors import ApplicationError, Conflict
from shops.models import Shop
from shops.services import Actor, audit_record

from .audience import audience_definition
from .links import link_target_check
from .models import Campaign, CampaignStatus, Channel, MessageStatus, MessagingSettings, QuietHoursPolicy
from .rules import placeholders_check, render, sms_compose
from .selectors import messaging_settings_get
from .snapshot import budget_release


class InvalidCampaign(ApplicationError):
    code = "invalid_campaign"


class CampaignState(Conflict):
    code = "campaign_state"
    default_message = _("The campaign cannot do this in its current state.")


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_message = _("This idempotency key was used for a different campaign.")


EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
FIELDS = (
    "name", "channel", "audience", "title", "text", "link_url", "coupon_template", "holdout_percent", "send_at",
    "send_at_active_hour", "quiet_hours", "attribution_days",
)  # fmt: skip


@dataclass
class CampaignInput:
    name: str
    channel: str
    audience: dict
    text: str
    title: str = ""
    link_url: str = ""
    coupon_template_id: int | None = None
    holdout_percent: int = 10
    send_at: datetime.datetime | None = None
    send_at_active_hour: bool = False
    quiet_hours: str = QuietHoursPolicy.DEFER
    attribution_days: int = 7


def _clean(*, shop: Shop, data: CampaignInput) -> dict:
    """The campaign's fields from `data`, checked. Raises InvalidCampaign, InvalidAudience, UnknownPlaceholder,
    InvalidLink, naming the field."""
    name = (data.name or "").strip()
    if not name or len(name) > 100:
        raise InvalidCampaign(_("Give the campaign a name of at most 100 characters."), details={"field": "name"})
    if data.channel not in Channel.values:
        raise InvalidCampaign(_("Choose SMS, push or in-app."), details={"field": "channel"})
    text = (data.text or "").strip()
    if not text or len(text) > 1000:
        raise InvalidCampaign(_("Write the message (at most 1,000 characters)."), details={"field": "text"})
    placeholders_check(text)
    placeholders_check(data.title or "")
    audience_definition(shop=shop, audience=data.audience)
    link = link_target_check(data.link_url)
    if "{link}" in text and not link:
        raise InvalidCampaign(_("The text has {link}: say where it leads."), details={"field": "link_url"})
    template = None
    if data.coupon_template_id is not None:
        template = CouponTemplate.objects.filter(shop=shop, pk=data.coupon_template_id).first()
        if template is None:
            raise InvalidCampaign(_("There is no such coupon template."), details={"field": "coupon_template_id"})
    if "{coupon}" in text and template is None:
        raise InvalidCampaign(_("The text has {coupon}: attach a coupon."), details={"field": "coupon_template_id"})
    if not 0 <= int(data.holdout_percent) <= 50:
        raise InvalidCampaign(_("The holdout share is between 0 and 50%."), details={"field": "holdout_percent"})
    if not 1 <= int(data.attribution_days) <= 90:
        raise InvalidCampaign(_("The attribution window is 1 to 90 days."), details={"field": "attribution_days"})
    if data.quiet_hours not in QuietHoursPolicy.values:
        raise InvalidCampaign(_("Choose to defer or to drop in quiet hours."), details={"field": "quiet_hours"})
    if data.send_at and data.send_at_active_hour:
        raise InvalidCampaign(
            _("Send at a time or at each member's active hour, not both."), details={"field": "send_at"}
        )
    return {
        "name": name, "channel": data.channel, "audience": data.audience, "title": (data.title or "").strip()[:60],
        "text": text, "link_url": link, "coupon_template": template, "holdout_percent": int(data.holdout_percent),
        "send_at": data.send_at, "send_at_active_hour": data.send_at_active_hour, "quiet_hours": data.quiet_hours,
        "attribution_days": int(data.attribution_days),
    }  # fmt: skip


@transaction.atomic
def campaign_create(
    *, shop: Shop, actor: Actor, data: CampaignInput, idempotency_key: str = ""
) -> tuple[Campaign, bool]:
    """A draft. A retry with the same key returns the first (created False); the key with other content is a 409."""
    fields = _clean(shop=shop, data=data)

    def replay(earlier: Campaign) -> tuple[Campaign, bool]:
        # Every field the client sent must match: a changed holdout or schedule under the same key is a 409.
        if any(getattr(earlier, f) != fields[f] for f in FIELDS):
            raise IdempotencyConflict(details={"idempotency_key": idempotency_key})
        return earlier, False

    if idempotency_key and (earlier := Campaign.objects.filter(shop=shop, idempotency_key=idempotency_key).first()):
        return replay(earlier)
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(
                shop=shop, idempotency_key=idempotency_key, created_by=actor.label[:200], **fields
            )
    except IntegrityError:  # a concurrent retry won
        return replay(Campaign.objects.get(shop=shop, idempotency_key=idempotency_key))
    audit_record(shop=shop, actor=actor, action="campaign.create", obj=campaign, changes={"name": ["", campaign.name]})
    return campaign, True


def _locked(shop: Shop, campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(shop=shop, pk=campaign.pk)


@transaction.atomic
def campaign_update(*, shop: Shop, actor: Actor, campaign: Campaign, data: CampaignInput) -> Campaign:
    campaign = _locked(shop, campaign)
    if campaign.status not in EDITABLE:
        raise CampaignState(_("Only a draft or scheduled campaign can be edited."))
    for name, value in _clean(shop=shop, data=data).items():
        setattr(campaign, name, value)
    campaign.save()
    audit_record(shop=shop, actor=actor, action="campaign.update", obj=campaign)
    return campaign


def _dispatch(task_name: str, shop: Shop, campaign: Campaign) -> None:
    from . import tasks  # tasks import the services

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(shop.pk, campaign.pk))


@transaction.atomic
def campaign_send(*, shop: Shop, actor: Actor, campaign: Campaign, now: datetime.datetime | None = None) -> Campaign:
    """Send now, or at its scheduled time. A campaign already on its way is returned as it is (a retried send)."""
    now = now or timezone.now()
    campaign = _locked(shop, campaign)
    if campaign.status in (CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.DONE):
        return campaign
    if campaign.status == CampaignStatus.CANCELLED:
        raise CampaignState(_("A cancelled campaign cannot be sent."))
    if campaign.send_at and campaign.send_at > now:
        campaign.status = CampaignStatus.SCHEDULED
        campaign.save(update_fields=["status", "updated_at"])
    else:
        campaign_start(shop=shop, campaign=campaign, now=now)
    audit_record(
        shop=shop, actor=actor, action="campaign.send", obj=campaign, changes={"status": ["", campaign.status]}
    )
    return campaign


def campaign_start(*, shop: Shop, campaign: Campaign, now: datetime.datetime) -> None:
    """Start a locked draft or scheduled campaign: the snapshot runs after commit, then the senders."""
    campaign.status = CampaignStatus.SENDING
    campaign.started_at = now
    campaign.save(update_fields=["status", "started_at", "updated_at"])
    _dispatch("campaign_snapshot", shop, campaign)


@transaction.atomic
def campaign_start_if_due(*, shop: Shop, campaign_id: int, now: datetime.datetime) -> bool:
    """Start a scheduled campaign whose time has come (beat's tick); False when it is not (any more) due."""
    campaign = Campaign.objects.select_for_update().get(shop=shop, pk=campaign_id)
    if campaign.status != CampaignStatus.SCHEDULED or not campaign.send_at or campaign.send_at > now:
        return False
    campaign_start(shop=shop, campaign=campaign, now=now)
    return True


@transaction.atomic
def campaign_pause(*, shop: Shop, actor: Actor, campaign: Campaign) -> Campaign:
    """Senders stop before their next batch (within seconds); nothing is lost: queued rows wait."""
    campaign = _locked(shop, campaign)
    if campaign.status == CampaignStatus.PAUSED:
        return campaign
    if campaign.status not in (CampaignStatus.SENDING, CampaignStatus.SCHEDULED):
        raise CampaignState(_("Only a sending or scheduled campaign can be paused."))
    campaign.status = CampaignStatus.PAUSED
    campaign.save(update_fields=["status", "updated_at"])
    audit_record(shop=shop, actor=actor, action="campaign.pause", obj=campaign)
    return campaign


@transaction.atomic
def campaign_resume(*, shop: Shop, actor: Actor, campaign: Campaign) -> Campaign:
    """Carry on from where it stopped: the queued rows, and the snapshot if it had not finished."""
    campaign = _locked(shop, campaign)
    if campaign.status == CampaignStatus.SENDING:
        return campaign
    if campaign.status != CampaignStatus.PAUSED:
        raise CampaignState(_("Only a paused campaign can be resumed."))
    if campaign.started_at is None:  # paused while scheduled
        campaign.status = CampaignStatus.SCHEDULED
        campaign.save(update_fields=["status", "updated_at"])
    else:
        campaign.status = CampaignStatus.SENDING
        campaign.save(update_fields=["status", "updated_at"])
        _dispatch("campaign_snapshot" if not campaign.snapshot_done else "campaign_send", shop, campaign)
    audit_record(shop=shop, actor=actor, action="campaign.resume", obj=campaign)
    return campaign


@transaction.atomic
def campaign_cancel(*, shop: Shop, actor: Actor, campaign: Campaign) -> Campaign:
    """Stop for good: rows not yet sent stay queued and are never sent, and give their contact budget back."""
    campaign = _locked(shop, campaign)
    if campaign.status == CampaignStatus.CANCELLED:
        return campaign
    if campaign.status == CampaignStatus.DONE:
        raise CampaignState(_("A finished campaign cannot be cancelled."))
    budget_release(shop=shop, campaign_id=campaign.pk)
    campaign.status = CampaignStatus.CANCELLED
    campaign.finished_at = timezone.now()
    campaign.save(update_fields=["status", "finished_at", "updated_at"])
    audit_record(shop=shop, actor=actor, action="campaign.cancel", obj=campaign)
    return campaign


def campaign_finish_if_done(*, shop: Shop, campaign_id: int) -> bool:
    """Mark a sending campaign done once its snapshot is complete and no message is queued or being sent."""
    from .models import Message

    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(shop=shop, pk=campaign_id)
        if campaign.status != CampaignStatus.SENDING or not campaign.snapshot_done or campaign.standing:
            return campaign.status == CampaignStatus.DONE
        pending = Message.objects.filter(
            shop=shop, campaign=campaign, status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
        )
        if pending.exists():
            return False
        campaign.status = CampaignStatus.DONE
        campaign.finished_at = timezone.now()
        campaign.save(update_fields=["status", "finished_at", "updated_at"])
        return True


def sample_values(*, shop: Shop) -> dict:
    """Placeholder values of a made-up member: the test send and the editor's preview."""
    return {
        "name": _("Sample member"), "shop": shop.name, "tier": _("Gold"), "points_balance": "1200",
        "points_expiring": "300", "coupon": "TEST-COUPON", "link": "https://example.com/c/test",
    }  # fmt: skip


def campaign_test_send(*, shop: Shop, actor: Actor, campaign: Campaign, phone: str) -> str:
    """Send the campaign's text to a staff phone, rendered with sample values, marked as a test; returns the text.
    Not a marketing message: no budget, no row."""
    from members.services import phone_normalize

    phone = phone_normalize(phone)
    text = render(campaign.text, sample_values(shop=shop))
    signature = messaging_settings_get(shop=shop).signature or shop.name
    text = sms_compose(f"[{_('Test')}] {text}", signature=signature, locale=shop.locale)
    from shops.services import sms_send

    sms_send(shop=shop, phone=phone, text=text)
    audit_record(shop=shop, actor=actor, action="campaign.test_send", obj=campaign)
    return text


SETTINGS_FIELDS = ("signature", "quiet_start", "quiet_end", "daily_cap", "weekly_cap", "fallback_hour")


@transaction.atomic
def messaging_settings_update(*, shop: Shop, actor: Actor, **fields) -> MessagingSettings:
    """Change the shop's messaging settings (any of SETTINGS_FIELDS; the others keep their value), creating the row
    on first use. Raises InvalidCampaign naming the field (details["field"]): a signature longer than 12 characters
    or with 【】 in it (the product adds them), an hour outside 0-23, a cap below 0 or a daily cap above the weekly."""
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise TypeError(f"unknown messaging settings: {sorted(unknown)}")
    settings, _created = MessagingSettings.objects.select_for_update().get_or_create(shop=shop)
    before = {name: getattr(settings, name) for name in SETTINGS_FIELDS}
    for name, value in fields.items():
        setattr(settings, name, value)
    signature = (settings.signature or "").strip()
    if "【" in signature or "】" in signature or len(signature) > 12:
        raise InvalidCampaign(
            _("Write the signature without 【】, in at most 12 characters."), details={"field": "signature"}
        )
    settings.signature = signature
    for name in ("quiet_start", "quiet_end"):
        if not isinstance(getattr(settings, name), datetime.time):
            raise InvalidCampaign(_("Give quiet hours as times of day."), details={"field": name})
    if not isinstance(settings.fallback_hour, int) or not 0 <= settings.fallback_hour <= 23:
        raise InvalidCampaign(_("The fallback hour is between 0 and 23."), details={"field": "fallback_hour"})
    for name in ("daily_cap", "weekly_cap"):
        if not isinstance(getattr(settings, name), int) or not 0 <= getattr(settings, name) <= 100:
            raise InvalidCampaign(_("A contact budget is between 0 and 100 messages."), details={"field": name})
    if settings.daily_cap > settings.weekly_cap:
        raise InvalidCampaign(_("The daily budget cannot be above the weekly budget."), details={"field": "daily_cap"})
    settings.save()
    changes = {
        name: [str(before[name]), str(getattr(settings, name))]
        for name in SETTINGS_FIELDS
        if before[name] != getattr(settings, name)
    }
    audit_record(shop=shop, actor=actor, action="messaging_settings.update", obj=settings, changes=changes)
    return settings
