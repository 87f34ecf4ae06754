"""Campaigns (SPEC 12): a message to each member of an audience over one channel, once.

A campaign's audience is snapshotted into Message rows, one per member and campaign (the unique key is the
"exactly once"), before any provider is called; each row's id is the provider's deduplication key. ContactCount
is the contact budget: marketing messages per member and shop-local day."""

import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.distribution import ShopForeignKey
from shops.models import ShopOwned


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    PUSH = "push", _("App push")
    IN_APP = "in_app", _("In-app inbox")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class QuietHoursPolicy(models.TextChoices):
    DEFER = "defer", _("Defer to the end of quiet hours")
    DROP = "drop", _("Do not send")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Handed to the provider")  # claimed by a sender; settled before any resend
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Suppressed")


class Reason(models.TextChoices):
    NO_CONSENT = "no_consent", _("No consent")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    FROZEN = "frozen", _("Frozen")
    ERASED = "erased", _("Erased")
    NO_ADDRESS = "no_address", _("No phone or device")
    CAPPED = "capped", _("Contact budget reached")
    QUIET_HOURS = "quiet_hours", _("Quiet hours")
    HOLDOUT = "holdout", _("Holdout")


class MessagingSettings(ShopOwned):
    """A shop's messaging rules: the SMS signature, quiet hours and the contact budget (SPEC 12). A shop without a
    row has the defaults (campaigns.settings.messaging_settings_get)."""

    signature = models.CharField(
        _("SMS signature"), max_length=12, blank=True, help_text=_("Shown as 【signature】 before every SMS.")
    )
    quiet_start = models.TimeField(_("quiet hours start"), default=datetime.time(21, 0))
    quiet_end = models.TimeField(_("quiet hours end"), default=datetime.time(8, 0))
    daily_cap = models.PositiveSmallIntegerField(_("marketing messages a day"), default=1)
    weekly_cap = models.PositiveSmallIntegerField(_("marketing messages in 7 days"), default=4)
    fallback_hour = models.PositiveSmallIntegerField(
        _("fallback hour"), default=10, help_text=_("For members without orders, when sending at the active hour.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("messaging settings")
        verbose_name_plural = _("messaging settings")
        constraints = [
            models.UniqueConstraint(fields=["shop"], name="messaging_settings_one_per_shop"),
            models.CheckConstraint(condition=Q(fallback_hour__lte=23), name="messaging_fallback_hour_range"),
            models.CheckConstraint(condition=Q(daily_cap__lte=models.F("weekly_cap")), name="messaging_caps_order"),
        ]

    def __str__(self):
        return str(_("Messaging settings"))


class Campaign(ShopOwned):
    name = models.CharField(_("name"), max_length=100)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    # {"segment_id": n} | {"tag": name or id} | {"filter": {...members.filters definition}}
    audience = models.JSONField(_("audience"), default=dict)
    title = models.CharField(_("title"), max_length=60, blank=True, help_text=_("Push notifications and the inbox."))
    text = models.TextField(_("text"), max_length=1000)
    link_url = models.CharField(
        _("link"), max_length=500, blank=True, help_text=_("Where {link} leads: a page of the shop or a saved URL.")
    )
    coupon_template = ShopForeignKey(
        "coupons.CouponTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("coupon"),
    )
    holdout_percent = models.PositiveSmallIntegerField(_("holdout share (%)"), default=10)
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    send_at_active_hour = models.BooleanField(_("at each member's active hour"), default=False)
    quiet_hours = models.CharField(
        _("in quiet hours"), max_length=8, choices=QuietHoursPolicy.choices, default=QuietHoursPolicy.DEFER
    )
    attribution_days = models.PositiveSmallIntegerField(_("attribution window (days)"), default=7)
    status = models.CharField(_("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    idempotency_key = models.CharField(max_length=100, blank=True)
    created_by = models.CharField(_("created by"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # The snapshot: members are written in id order, chunk by chunk; the cursor moves with each chunk's commit.
    snapshot_cursor = models.BigIntegerField(default=0)
    snapshot_done = models.BooleanField(default=False)
    # What the attached coupon did at the snapshot: {"issued", "skipped_audience", "skipped_stock", ...}.
    coupon_counts = models.JSONField(default=dict, blank=True)
    # The uplift report, frozen once the attribution window has passed (campaigns.reports).
    report = models.JSONField(null=True, blank=True)
    # A standing campaign is the message step of an automation (SPEC 13): the automation writes its rows, one per
    # member and occurrence, as members reach the step; it stays `sending` while it exists and is not listed among
    # the merchant's campaigns. A transactional one (order care) is exempt from marketing consent, the contact
    # budget and quiet hours, but never reaches a member who opted out of service messages.
    standing = models.BooleanField(default=False)
    transactional = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "idempotency_key"], condition=~Q(idempotency_key=""), name="campaign_unique_key"
            ),
            models.CheckConstraint(condition=Q(holdout_percent__lte=50), name="campaign_holdout_range"),
        ]
        indexes = [
            models.Index(fields=["shop", "-created_at", "-id"], name="campaign_shop_created"),
            models.Index(fields=["status", "send_at"], name="campaign_status_due"),
        ]

    def __str__(self):
        return self.name


class Message(ShopOwned):
    """One member's message of one campaign: written before the provider is called, sent at most once."""

    campaign = ShopForeignKey(Campaign, on_delete=models.CASCADE, related_name="messages", db_index=False)
    member = ShopForeignKey("members.Member", on_delete=models.CASCADE, related_name="+", db_index=False)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices)
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices, blank=True)
    due_at = models.DateTimeField(_("due"))
    due_on = models.DateField(_("due day"))  # the shop-local day it is counted on in the contact budget
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked"), null=True, blank=True)
    clicks = models.PositiveIntegerField(_("clicks"), default=0)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)  # the in-app inbox
    error = models.CharField(_("error"), max_length=500, blank=True)
    address = models.CharField(_("sent to"), max_length=255, blank=True)  # the phone or device token
    text = models.TextField(_("text as sent"), blank=True)
    coupon = ShopForeignKey(
        "coupons.Coupon", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # An automation's occurrence ("" for a campaign): a member gets one message per campaign and occurrence.
    occurrence = models.CharField(max_length=64, default="", db_default="", blank=True)
    # The automation placeholders' values of this message ({order}, {gift}, {date}), written with the row.
    detail = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "campaign", "member", "occurrence"], name="message_once_per_occurrence"
            ),
        ]
        indexes = [
            # The senders' claim: a campaign's queued rows that are due, in id order.
            models.Index(
                fields=["shop", "campaign", "due_at", "id"],
                condition=Q(status="queued"),
                name="message_queued_due",
            ),
            models.Index(fields=["shop", "campaign", "status"], name="message_campaign_status"),
            models.Index(fields=["shop", "member", "-due_at"], name="message_member_time"),
            # Claims whose sender died: settled by the sweep.
            models.Index(fields=["claimed_at"], condition=Q(status="sending"), name="message_sending_claimed"),
            # A reply "T" names only a phone: the shop is the one whose SMS reached it last.
            models.Index(fields=["address", "-sent_at"], condition=Q(channel="sms"), name="message_sms_address"),
        ]

    def __str__(self):
        return f"{self.campaign_id}/{self.member_id}"

    @property
    def provider_id(self) -> str:
        return provider_id(self.shop_id, self.pk)


def provider_id(shop_id: int, message_id: int) -> str:
    """The provider's deduplication key of a message: unique across shops, and it names the shop, so a receipt
    finds its row by the shop's key."""
    return f"{shop_id}-{message_id}"


class ContactCount(ShopOwned):
    """Marketing messages counted against a member's contact budget on a shop-local day."""

    member = ShopForeignKey("members.Member", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "member", "day"], name="contact_count_per_day")]
