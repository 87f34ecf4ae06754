"""Tiers (SPEC 7) and the growth value ledger (SPEC 6) that drives them.

A shop's tiers are ordered by rank; rank 0 is the tier every member holds on joining and has no qualification. A
member's tier is `members.Member.tier`, NULL meaning rank 0 (so joining writes nothing), with `tier_until`: the end
of the retention period, before which the tier is never lowered (NULL: never lowered, for rank 0 and for a manual
assignment without expiry). Every change is a TierChange row with its reason."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import Member
from shops.distribution import ShopForeignKey
from shops.models import ShopOwned


class Window(models.TextChoices):
    LIFETIME = "lifetime", _("Lifetime")
    ROLLING_12M = "12m", _("Last 12 months")
    CALENDAR_YEAR = "year", _("This calendar year")


class Combine(models.TextChoices):
    ALL = "all", _("All of the thresholds")
    ANY = "any", _("Any of the thresholds")


class Tier(ShopOwned):
    # Tiers removed from a ladder whose history still names them are kept out of it at ranks from here on (the
    # history's foreign keys protect them); a ladder's own ranks stay below.
    RETIRED_RANK = 1000

    name = models.CharField(_("name"), max_length=40)
    rank = models.PositiveSmallIntegerField(_("rank"), help_text=_("0 is the tier members hold on joining."))
    # Qualification: the thresholds that are set, combined with AND (all) or OR (any), over the window.
    min_spend = models.DecimalField(_("minimum spend"), max_digits=12, decimal_places=2, null=True, blank=True)
    min_orders = models.PositiveIntegerField(_("minimum orders"), null=True, blank=True)
    min_growth = models.PositiveBigIntegerField(_("minimum growth value"), null=True, blank=True)
    combine = models.CharField(_("combine"), max_length=3, choices=Combine.choices, default=Combine.ALL)
    window = models.CharField(_("window"), max_length=8, choices=Window.choices, default=Window.ROLLING_12M)
    retention_months = models.PositiveSmallIntegerField(
        _("retention (months)"), default=12, help_text=_("The tier is kept at least this long after it is reached.")
    )
    # Benefits. The coupon gifts (birthday, upgrade, monthly pack) are issued by the coupons app from tier changes.
    discount_rate = models.DecimalField(
        _("price rate"), max_digits=4, decimal_places=3, default=1, help_text=_("0.95 means 5% off (95折).")
    )
    points_multiplier = models.DecimalField(_("points multiplier"), max_digits=4, decimal_places=2, default=1)
    free_shipping = models.BooleanField(_("free shipping"), default=False)
    priority_shipping = models.BooleanField(_("priority shipping"), default=False)
    dedicated_service = models.BooleanField(_("dedicated service"), default=False)
    description = models.CharField(_("description"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "rank"], name="tier_unique_rank"),
            models.UniqueConstraint(fields=["shop", "name"], name="tier_unique_name"),
            models.CheckConstraint(
                condition=Q(discount_rate__gt=0, discount_rate__lte=1), name="tier_discount_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(points_multiplier__gte=0, points_multiplier__lte=20), name="tier_multiplier_range"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def has_thresholds(self) -> bool:
        return any(v is not None for v in (self.min_spend, self.min_orders, self.min_growth))


class ChangeReason(models.TextChoices):
    UPGRADE = "upgrade", _("Qualified for a higher tier")
    DOWNGRADE = "downgrade", _("Retention ended without qualifying")
    MANUAL = "manual", _("Assigned by staff")
    MANUAL_ENDED = "manual_ended", _("Manual assignment ended")
    POLICY = "policy", _("Tier rules changed")


class TierChange(ShopOwned):
    """One change of a member's tier (NULL tiers: rank 0)."""

    member = ShopForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("member"))
    from_tier = ShopForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("from")
    )
    to_tier = ShopForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("to")
    )
    reason = models.CharField(_("reason"), max_length=16, choices=ChangeReason.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    actor = models.CharField(_("by"), max_length=200, blank=True)
    changed_at = models.DateTimeField(_("changed"))

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        indexes = [models.Index(fields=["shop", "member", "-changed_at", "-id"], name="tier_change_member")]


class EvaluationMode(models.TextChoices):
    FULL = "full", _("All members")
    INCREMENTAL = "incremental", _("Members whose figures changed")


class TierEvaluation(ShopOwned):
    """One run of the periodic evaluation: when, over whom, and what it moved. The incremental mode starts from
    the last run's `started_at`."""

    mode = models.CharField(_("mode"), max_length=12, choices=EvaluationMode.choices)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    members_checked = models.IntegerField(_("members checked"), default=0)
    upgraded = models.IntegerField(_("upgraded"), default=0)
    downgraded = models.IntegerField(_("downgraded"), default=0)

    class Meta:
        verbose_name = _("tier evaluation")
        verbose_name_plural = _("tier evaluations")
        indexes = [models.Index(fields=["shop", "-started_at"], name="tier_evaluation_shop_started")]


class TierSchedule(ShopOwned):
    """A previewed change of the tier rules, applied on `effective_on` (in the shop's time zone) by the daily task,
    followed by a full evaluation. `ladder` holds the tiers as the editor saved them."""

    ladder = models.JSONField(_("tiers"))
    effective_on = models.DateField(_("applies from"))
    created_by = models.CharField(_("by"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True)

    class Meta:
        verbose_name = _("scheduled tier change")
        verbose_name_plural = _("scheduled tier changes")


class GrowthKind(models.TextChoices):
    EARN = "earn", _("earned by spend")
    TASK = "task", _("earned by an interaction")
    REVERSE = "reverse", _("reversed by a refund")
    ADJUST = "adjust", _("adjusted")


class GrowthEntry(ShopOwned):
    """The growth value (成长值) ledger: append-only, never spent; the cached sum is Member.growth_value."""

    member = ShopForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("member"))
    kind = models.CharField(_("kind"), max_length=8, choices=GrowthKind.choices)
    value = models.BigIntegerField(_("growth value"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    order_external_id = models.CharField(_("order number"), max_length=64, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    actor = models.CharField(_("by"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("growth entry")
        verbose_name_plural = _("growth entries")
        constraints = [
            models.UniqueConstraint(fields=["shop", "idempotency_key"], name="growth_entry_unique_key"),
            models.CheckConstraint(condition=~Q(value=0), name="growth_entry_not_zero"),
        ]
        indexes = [models.Index(fields=["shop", "member", "created_at"], name="growth_entry_member")]
