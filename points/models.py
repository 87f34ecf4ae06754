"""The points ledger (SPEC 6, CONVENTIONS 4): append-only entries, and the lots that earning creates.

An entry is never changed or deleted; a correction is a new entry (an adjustment, or a reversal naming the entry it
reverses). A lot is what one positive entry made spendable: redemptions, negative adjustments and expiry consume the
oldest lots first, so `remaining` is the one value that changes after the fact, and always together with the entry
that consumed it. The member's cached balance (members.Member.points_balance) equals the sum of the entries and the
sum of the open lots' remainders; points.selectors.points_reconcile checks both."""

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import MAX_POINTS, Member
from shops.distribution import ShopForeignKey
from shops.models import ShopOwned


class EntryKind(models.TextChoices):
    EARN = "earn", _("earned")
    REDEEM = "redeem", _("redeemed")
    EXPIRE = "expire", _("expired")
    ADJUST = "adjust", _("adjusted")
    REVERSE = "reverse", _("reversed")


class PointsEntry(ShopOwned):
    member = ShopForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("member"))
    kind = models.CharField(_("kind"), max_length=16, choices=EntryKind.choices)
    points = models.BigIntegerField(_("points"), help_text=_("Positive adds to the balance, negative takes from it."))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    order_external_id = models.CharField(_("order number"), max_length=64, blank=True)
    reverses = ShopForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("reverses")
    )
    # Unique per shop: a retried write finds its first result. body_hash tells a replay from a conflicting reuse.
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    body_hash = models.CharField(max_length=64)
    actor = models.CharField(_("by"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("at"), db_index=False)
    # For an order's earn entry: how the points were computed (points.rules.Award.as_details), shown on the order.
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        constraints = [
            models.UniqueConstraint(fields=["shop", "idempotency_key"], name="points_entry_unique_key"),
            models.CheckConstraint(condition=~Q(points=0), name="points_entry_not_zero"),
        ]
        indexes = [models.Index(fields=["shop", "member", "-created_at", "-id"], name="points_entry_member")]

    def __str__(self):
        return f"{self.kind} {self.points:+d}"


class PointsLot(ShopOwned):
    """The spendable remainder of one positive entry, until it is consumed or expires."""

    entry = ShopForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="+")
    member = ShopForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    remaining = models.BigIntegerField()
    earned_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty: never expires."))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "entry"], name="points_lot_one_per_entry"),
            models.CheckConstraint(condition=Q(remaining__gte=0), name="points_lot_remaining_not_negative"),
        ]
        indexes = [
            # Consumption order over a member's open lots: soonest expiry first (PostgreSQL's ascending order puts
            # the never-expiring NULLs last, as the query asks), then oldest earned.
            models.Index(
                fields=["shop", "member", "expires_at", "earned_at", "id"],
                condition=Q(remaining__gt=0),
                name="points_lot_open",
            ),
        ]


class Rounding(models.TextChoices):
    DOWN = "down", _("Round down (fractions earn nothing)")
    HALF_UP = "half_up", _("Round half up")
    UP = "up", _("Round up")


class ExpiryMode(models.TextChoices):
    FOLLOWING_YEAR_END = "following_year_end", _("At the end of the following calendar year")
    AFTER_DAYS = "after_days", _("A number of days after earning")
    AFTER_MONTHS = "after_months", _("A number of months after earning")
    NEVER = "never", _("Never")


class ExpiryRounding(models.TextChoices):
    NONE = "none", _("Exactly")
    MONTH_END = "month_end", _("At the end of that month")
    YEAR_END = "year_end", _("At the end of that year")


class PointsProgram(ShopOwned):
    """A shop's points rules (one per shop). Changes apply to points earned afterwards: an earned lot keeps the
    expiry it was given."""

    # Earning: points = eligible amount x rate, bonuses added, tier multiplier, cap; rounded once (points.rules).
    points_per_unit = models.DecimalField(
        _("points per currency unit"),
        max_digits=8,
        decimal_places=2,
        default=1,
        help_text=_("Points earned for each unit of currency paid (1 = one point per yuan)."),
    )
    rounding = models.CharField(_("rounding"), max_length=8, choices=Rounding.choices, default=Rounding.DOWN)
    per_order_cap = models.PositiveBigIntegerField(
        _("cap per order"), null=True, blank=True, validators=[MaxValueValidator(MAX_POINTS)]
    )
    excluded_categories = models.JSONField(
        _("excluded categories"),
        default=list,
        blank=True,
        help_text=_("Items of these categories (for example shipping) earn no points."),
    )
    pending_days = models.PositiveSmallIntegerField(
        _("pending days"),
        default=0,
        help_text=_("Points become available this many days after the order completes (0: at once)."),
    )
    expiry_mode = models.CharField(
        _("expiry"), max_length=20, choices=ExpiryMode.choices, default=ExpiryMode.FOLLOWING_YEAR_END
    )
    expiry_period = models.PositiveSmallIntegerField(_("expiry period"), default=12)
    expiry_rounding = models.CharField(
        _("expiry rounding"), max_length=10, choices=ExpiryRounding.choices, default=ExpiryRounding.NONE
    )
    reminder_days = models.PositiveSmallIntegerField(_("remind days before expiry"), default=30)
    # Points as cash at checkout.
    cash_enabled = models.BooleanField(_("points as cash"), default=False)
    # Amounts of points and growth value are bigints of at most MAX_POINTS, as everywhere (members.models).
    points_per_cash_unit = models.PositiveBigIntegerField(
        _("points per currency unit of cash"),
        default=100,
        help_text=_("100 means 100 points pay 1 yuan."),
        validators=[MaxValueValidator(MAX_POINTS)],
    )
    cash_min_points = models.PositiveBigIntegerField(
        _("minimum points per use"), default=0, validators=[MaxValueValidator(MAX_POINTS)]
    )
    cash_max_share = models.PositiveSmallIntegerField(
        _("maximum share of the order (%)"), default=50, validators=[MaxValueValidator(100)]
    )
    # Task rewards; check-in, review and share are hooks for later issues.
    profile_completion_points = models.PositiveBigIntegerField(
        _("points for a completed profile"), default=0, validators=[MaxValueValidator(MAX_POINTS)]
    )
    profile_completion_growth = models.PositiveBigIntegerField(
        _("growth value for a completed profile"), default=0, validators=[MaxValueValidator(MAX_POINTS)]
    )
    # Growth value per currency unit paid (no bonuses, no multipliers).
    growth_per_unit = models.DecimalField(
        _("growth value per currency unit"), max_digits=8, decimal_places=2, default=1
    )

    class Meta:
        verbose_name = _("points rules")
        verbose_name_plural = _("points rules")
        constraints = [
            models.UniqueConstraint(fields=["shop"], name="points_program_one_per_shop"),
            models.CheckConstraint(condition=Q(points_per_unit__gte=0), name="points_program_rate_not_negative"),
            models.CheckConstraint(condition=Q(cash_max_share__lte=100), name="points_program_share_percent"),
        ]


class BonusKind(models.TextChoices):
    CATEGORY = "category", _("Items of a category")
    SKU = "sku", _("Items of a SKU")
    DATE_RANGE = "date_range", _("Orders paid between two dates")
    BIRTHDAY_MONTH = "birthday_month", _("Orders in the member's birthday month")
    FIRST_PURCHASE = "first_purchase", _("The member's first order")


class BonusRule(ShopOwned):
    """Extra points on top of the base: a multiplier of the matching amount's base points (2 = double points)
    and/or a fixed number of points per matching order."""

    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("applies to"), max_length=16, choices=BonusKind.choices)
    match = models.CharField(_("category or SKU"), max_length=64, blank=True)
    starts_on = models.DateField(_("from"), null=True, blank=True)
    ends_on = models.DateField(_("until"), null=True, blank=True)
    multiplier = models.DecimalField(_("multiplier"), max_digits=4, decimal_places=2, default=1)
    extra_points = models.PositiveBigIntegerField(
        _("extra points"), default=0, validators=[MaxValueValidator(MAX_POINTS)]
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("bonus rule")
        verbose_name_plural = _("bonus rules")
        constraints = [
            models.CheckConstraint(condition=Q(multiplier__gte=1, multiplier__lte=20), name="bonus_multiplier_range")
        ]

    def __str__(self):
        return self.name


class PendingState(models.TextChoices):
    PENDING = "pending", _("Pending")
    RELEASED = "released", _("Available")
    CANCELLED = "cancelled", _("Cancelled")


class PendingAward(ShopOwned):
    """Points an order earned that wait out the return window (PointsProgram.pending_days). `available_at` is set
    when the order completes; the release task turns due awards into earn entries. Member.points_pending is the
    sum of the pending ones."""

    member = ShopForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    order_external_id = models.CharField(_("order number"), max_length=64)
    points = models.BigIntegerField(_("points"))
    available_at = models.DateTimeField(_("available from"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=PendingState.choices, default=PendingState.PENDING)
    created_at = models.DateTimeField(_("at"))
    details = models.JSONField(default=dict, blank=True)  # as PointsEntry.details, copied to the earn entry

    class Meta:
        verbose_name = _("pending points")
        verbose_name_plural = _("pending points")
        constraints = [
            models.UniqueConstraint(fields=["shop", "order_external_id"], name="pending_award_one_per_order"),
            models.CheckConstraint(condition=Q(points__gte=0), name="pending_award_not_negative"),
        ]
        indexes = [
            models.Index(fields=["shop", "available_at"], condition=Q(state="pending"), name="pending_award_due"),
            models.Index(fields=["shop", "member"], name="pending_award_member"),
        ]
