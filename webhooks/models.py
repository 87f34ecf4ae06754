"""Webhooks (SPEC 17): endpoints, one delivery row per (endpoint, event), and the log of attempts.

A Delivery row is written before any request is made (CONVENTIONS 5b): its unique key (shop, endpoint, event) is
the "at least once, never twice on purpose", the event id is the `webhook-id` every attempt sends, and the row's
`next_attempt_at` is the retry schedule kept in the database (beat picks due rows; no Celery countdowns)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.distribution import ShopForeignKey
from shops.models import ShopOwned


class DisabledReason(models.TextChoices):
    GONE = "gone", _("The endpoint answered 410 Gone")
    FAILING = "failing", _("Every delivery failed for 5 days")


class Endpoint(ShopOwned):
    """A merchant's receiver: a URL and the event types it wants. The secret signs every request; during a
    rotation the previous one signs beside it until `previous_secret_expires_at` (24 hours)."""

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=100, blank=True)
    event_types = models.JSONField(_("event types"), default=list)
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    disabled_reason = models.CharField(_("disabled because"), max_length=16, choices=DisabledReason.choices, blank=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    # The first failure since the last success: an endpoint failing for 5 days is disabled.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    # After a request got no answer (a timeout, a refused connection), nothing more is sent until then (the failed
    # delivery's retry): a dead or hanging endpoint costs one request per step of the schedule, not a worker.
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["pk"]

    def __str__(self):
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # due at next_attempt_at (a first try, a retry, or a claim that lapsed)
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed")  # the schedule ran out, or the endpoint was disabled or deleted


class Delivery(ShopOwned):
    endpoint = ShopForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    # Not a foreign key: events are pruned after 30 days, the log of what was sent stays its own.
    event_id = models.UUIDField(_("event"))
    event_type = models.CharField(_("event type"), max_length=40)
    event_seq = models.BigIntegerField(_("sequence"))
    occurred_at = models.DateTimeField(_("occurred at"))
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("last status code"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["shop", "endpoint", "event_id"], name="webhooks_delivery_once"),
            models.CheckConstraint(
                condition=Q(status="pending", next_attempt_at__isnull=False) | ~Q(status="pending"),
                name="webhooks_delivery_pending_is_due",
            ),
        ]
        indexes = [
            # The senders' queue: an endpoint's due rows, oldest event first.
            models.Index(
                fields=["shop", "endpoint", "next_attempt_at"],
                name="webhooks_delivery_due",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["shop", "endpoint", "-event_seq"], name="webhooks_delivery_log"),
        ]

    def __str__(self):
        return f"{self.event_type} {self.event_id}"


class Attempt(ShopOwned):
    """One request made (or refused before it left: an address not allowed). Kept 30 days."""

    delivery = ShopForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log", db_index=False)
    endpoint_id = models.BigIntegerField(_("endpoint"))
    attempted_at = models.DateTimeField(_("time"), default=timezone.now)
    status_code = models.PositiveIntegerField(_("status code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=200, blank=True)
    response_excerpt = models.CharField(_("response"), max_length=1000, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        indexes = [
            models.Index(fields=["shop", "delivery", "attempted_at"], name="webhooks_attempt_delivery"),
            models.Index(fields=["shop", "attempted_at"], name="webhooks_attempt_time"),
        ]

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
