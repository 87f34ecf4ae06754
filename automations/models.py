"""Automations (SPEC 13): standing campaigns started by a trigger for one member at a time.

An automation is a trigger and a list of steps. A member who meets the trigger enters a Journey, unique per
(automation, member, occurrence): the occurrence names what started it (an order, a birthday's year, an expiry
date...), so a replayed event or a re-run daily pass enters nobody twice. The journey walks the steps as they fall
due; its message steps write rows of the step's standing campaign (campaigns.Message, unique per campaign, member
and occurrence), which the campaign senders send exactly once; its reward steps issue with keys per journey.
A held-out journey (by the member's bucket, like a campaign's holdout) records the entry and does nothing else."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.distribution import ShopForeignKey
from shops.models import ShopOwned


class Trigger(models.TextChoices):
    JOINED = "joined", _("Joined")
    TIER_UP = "tier_up", _("Tier upgraded")
    BIRTHDAY = "birthday", _("Birthday")
    POINTS_EXPIRING = "points_expiring", _("Points expiring")
    COUPONS_EXPIRING = "coupons_expiring", _("Coupon expiring")
    WIN_BACK = "win_back", _("No order for a while")
    CHURN_RISK = "churn_risk", _("Churn risk became high")
    REPLENISHMENT = "replenishment", _("Time to buy again")
    ORDER_CARE = "order_care", _("Order updates")
    SURVEY = "survey", _("Satisfaction survey")


# Triggers read by the daily pass (automations.daily); the others are consumers of domain events.
DAILY_TRIGGERS = (
    Trigger.BIRTHDAY,
    Trigger.POINTS_EXPIRING,
    Trigger.COUPONS_EXPIRING,
    Trigger.WIN_BACK,
    Trigger.REPLENISHMENT,
)


class OrderStage(models.TextChoices):
    """The order care trigger's stage: which order event starts it."""

    RECORDED = "recorded", _("Order received")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    COMPLETED = "completed", _("Completed")
    REFUNDED = "refunded", _("Refunded")


class Reentry(models.TextChoices):
    ONCE = "once", _("Once ever")
    PERIOD = "period", _("Once per period")
    EVERY = "every", _("Every time")


class Automation(ShopOwned):
    # The default it was made from ("welcome", "birthday"...): a shop gets each default once.
    key = models.CharField(max_length=32, blank=True)
    name = models.CharField(_("name"), max_length=100)
    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices)
    # Days: before the birthday, before points or coupons expire, without an order (win-back), before the expected
    # re-purchase (replenishment). Unused by the event triggers.
    days = models.PositiveSmallIntegerField(_("days"), default=0)
    order_stage = models.CharField(_("order stage"), max_length=10, choices=OrderStage.choices, blank=True)
    enabled = models.BooleanField(_("on"), default=False)
    reentry = models.CharField(_("re-entry"), max_length=8, choices=Reentry.choices, default=Reentry.EVERY)
    reentry_days = models.PositiveSmallIntegerField(_("period (days)"), default=30)
    holdout_percent = models.PositiveSmallIntegerField(_("holdout share (%)"), default=5)
    attribution_days = models.PositiveSmallIntegerField(_("attribution window (days)"), default=7)
    # The survey's compensation for a low score (SPEC 13).
    compensation_template = ShopForeignKey(
        "coupons.CouponTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("compensation coupon"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("automation")
        verbose_name_plural = _("automations")
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "key"], condition=~Q(key=""), name="automation_default_once"),
            models.CheckConstraint(condition=Q(holdout_percent__lte=50), name="automation_holdout_range"),
            models.CheckConstraint(condition=Q(days__lte=365), name="automation_days_range"),
            models.CheckConstraint(condition=Q(reentry_days__gte=1), name="automation_period_positive"),
        ]

    def __str__(self):
        return self.name

    @property
    def transactional(self) -> bool:
        """Order care is service, not marketing (SPEC 13)."""
        return self.trigger == Trigger.ORDER_CARE


class StepKind(models.TextChoices):
    WAIT = "wait", _("Wait")
    CONDITION = "condition", _("Check they still qualify")
    MESSAGE = "message", _("Message")
    REWARD = "reward", _("Reward")


class Step(ShopOwned):
    """One step of an automation, in `position` order; after the last, the journey ends."""

    automation = ShopForeignKey(Automation, on_delete=models.CASCADE, related_name="steps", db_index=False)
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(_("step"), max_length=10, choices=StepKind.choices)
    # wait: so many days, then (optionally) until the next hour of the shop's day
    wait_days = models.PositiveSmallIntegerField(_("days"), default=0)
    wait_hour = models.PositiveSmallIntegerField(_("until hour"), null=True, blank=True)
    # message: the content lives on the standing campaign (channel, title, text, link), which the senders read
    campaign = ShopForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # reward: a coupon, points, or the member's tier birthday gifts (the birthday automation)
    coupon_template = ShopForeignKey(
        "coupons.CouponTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("coupon"),
    )
    points = models.PositiveIntegerField(_("points"), default=0)
    tier_birthday_gift = models.BooleanField(_("the tier's birthday gift"), default=False)

    class Meta:
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        ordering = ["automation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "automation", "position"], name="step_position_unique"),
            models.CheckConstraint(
                condition=Q(wait_hour__isnull=True) | Q(wait_hour__lte=23), name="step_wait_hour_range"
            ),
        ]

    def __str__(self):
        return f"{self.automation_id}#{self.position} {self.kind}"


class JourneyStatus(models.TextChoices):
    ACTIVE = "active", _("In progress")
    DONE = "done", _("Completed")
    EXITED = "exited", _("Left: no longer qualifies")
    HOLDOUT = "holdout", _("Holdout")


class Journey(ShopOwned):
    """One member's way through one automation for one occurrence. `position` is the next step to run, at `due_at`."""

    automation = ShopForeignKey(Automation, on_delete=models.CASCADE, related_name="journeys", db_index=False)
    member = ShopForeignKey("members.Member", on_delete=models.CASCADE, related_name="+", db_index=False)
    occurrence = models.CharField(max_length=64)
    # What it is about, for the conditions: the category (replenishment), the order id (order care, survey).
    subject = models.CharField(max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=JourneyStatus.choices)
    position = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(_("next step due"))
    entered_at = models.DateTimeField(_("entered"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # What started it: {"order_id", "order"} (order care, survey), {"coupon_id"}, {"category"}, and the values of the
    # automation placeholders ({"order", "gift", "date"}) its messages carry.
    detail = models.JSONField(default=dict, blank=True)
    # The coupon its messages name as {coupon}: its reward, or the expiring coupon it reminds of.
    coupon = ShopForeignKey(
        "coupons.Coupon", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "automation", "member", "occurrence"], name="journey_once_per_occurrence"
            ),
        ]
        indexes = [
            # The tick's work: active journeys whose next step is due.
            models.Index(fields=["due_at"], condition=Q(status="active"), name="journey_active_due"),
            models.Index(fields=["shop", "automation", "entered_at"], name="journey_automation_entered"),
            models.Index(fields=["shop", "member", "-entered_at"], name="journey_member_time"),
        ]

    def __str__(self):
        return f"{self.automation_id}/{self.member_id}/{self.occurrence}"


class DailyRun(ShopOwned):
    """The daily pass done for a shop-local day: later hours skip it (a run cut short is redone; the journeys'
    unique key keeps it from entering anyone twice)."""

    day = models.DateField()
    finished_at = models.DateTimeField(default=timezone.now)
    entered = models.JSONField(default=dict)  # {automation id: journeys entered}

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day"], name="automation_daily_run_once")]


class Replenishment(ShopOwned):
    """A member's expected re-purchase of a category (automations.replenishment), recomputed nightly: their last
    purchase day and the gap they are expected to leave, their own median shrunk towards the category's."""

    member = ShopForeignKey("members.Member", on_delete=models.CASCADE, related_name="+", db_index=False)
    category = models.CharField(max_length=64)
    last_on = models.DateField()
    purchases = models.PositiveIntegerField()
    gap_days = models.PositiveIntegerField()
    expected_on = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "member", "category"], name="replenishment_member_category")
        ]
        indexes = [models.Index(fields=["shop", "expected_on"], name="replenishment_expected")]


class SurveyAnswer(ShopOwned):
    """A member's satisfaction score (1-5) for one completed order; one per order, the first answer kept."""

    member = ShopForeignKey("members.Member", on_delete=models.CASCADE, related_name="+", db_index=False)
    order = ShopForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+", db_index=False)
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    answered_at = models.DateTimeField(_("answered"), default=timezone.now)
    compensation = ShopForeignKey(
        "coupons.Coupon", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)

    class Meta:
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
        ordering = ["-answered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "order"], name="survey_answer_once_per_order"),
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="survey_score_range"),
        ]
        indexes = [models.Index(fields=["shop", "-answered_at"], name="survey_answer_time")]

    def __str__(self):
        return f"{self.order_id}: {self.score}"


LOW_SCORE = 2  # a score at or below it gives a compensation coupon and alerts staff
