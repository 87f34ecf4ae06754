"""Coupons, their templates and redemptions, the points mall and the tier gifts (SPEC 8).

A template says what a coupon gives and to whom; `issued` counts the coupons made from it and never passes `stock`
(a CheckConstraint behind the conditional update in coupons.issuance). A coupon is single use: at most one
redemption of it is standing at a time (a partial unique index), and a refund voids or restores it as the template
says. Codes are random (coupons.codes), unique per shop and stored upper-case without separators."""

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from members.models import MAX_POINTS, Member, Segment
from points.models import PointsEntry
from shops.distribution import ShopForeignKey
from shops.models import ShopOwned
from tiers.models import Tier


class CouponKind(models.TextChoices):
    AMOUNT_OFF = "amount_off", _("Amount off above a threshold (满减)")
    PERCENT_OFF = "percent_off", _("Percent off (折扣)")
    NO_THRESHOLD = "no_threshold", _("Amount off, no threshold (无门槛)")
    FREE_SHIPPING = "free_shipping", _("Free shipping")
    GIFT = "gift", _("Gift item")
    EXCHANGE = "exchange", _("Exchange voucher")


class Scope(models.TextChoices):
    ORDER = "order", _("The whole order")
    CATEGORIES = "categories", _("Items of some categories")
    SKUS = "skus", _("Items of some SKUs")


class Audience(models.TextChoices):
    EVERYONE = "everyone", _("Every member")
    TIERS = "tiers", _("Members of some tiers")
    TAGS = "tags", _("Members with some tags")
    SEGMENT = "segment", _("Members of a segment")
    NEW_MEMBERS = "new_members", _("New members")


class UseChannel(models.TextChoices):
    BOTH = "both", _("Online and in store")
    ONLINE = "online", _("Online only")
    OFFLINE = "offline", _("In store only")


class RefundPolicy(models.TextChoices):
    RESTORE = "restore", _("Give the coupon back if it is still valid")
    VOID = "void", _("The coupon stays spent")


class TemplateStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    ENDED = "ended", _("Ended")


class CouponTemplate(ShopOwned):
    name = models.CharField(_("name"), max_length=60)
    description = models.CharField(_("terms shown to shoppers"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=CouponKind.choices)
    # amount_off / no_threshold: the amount; percent_off: the percentage taken off (20 = 20% off, 8折);
    # free_shipping: the most it covers (0: all of it); gift / exchange: the item's value (0: not stated).
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2, default=0)
    min_spend = models.DecimalField(_("minimum spend"), max_digits=12, decimal_places=2, null=True, blank=True)
    max_discount = models.DecimalField(_("maximum discount"), max_digits=12, decimal_places=2, null=True, blank=True)
    item_sku = models.CharField(
        _("item SKU"), max_length=64, blank=True, help_text=_("Gift and exchange coupons: the item they give.")
    )
    item_name = models.CharField(_("item name"), max_length=60, blank=True)
    scope = models.CharField(_("applies to"), max_length=12, choices=Scope.choices, default=Scope.ORDER)
    scope_values = models.JSONField(_("categories or SKUs"), default=list, blank=True)
    audience = models.CharField(
        _("who may have it"), max_length=12, choices=Audience.choices, default=Audience.EVERYONE
    )
    audience_tiers = models.JSONField(_("tiers"), default=list, blank=True)  # tier ids of this shop
    audience_tags = models.JSONField(_("tags"), default=list, blank=True)  # tag ids of this shop
    audience_segment = ShopForeignKey(
        Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("segment")
    )
    new_member_days = models.PositiveSmallIntegerField(
        _("new member: joined within (days)"), default=30, help_text=_("For the audience “new members”.")
    )
    claim_starts_at = models.DateTimeField(_("claims open"), null=True, blank=True)
    claim_ends_at = models.DateTimeField(_("claims close"), null=True, blank=True)
    # The use window: N days after issue (counting the day of issue, to its end in the shop's time zone), or fixed.
    valid_days = models.PositiveSmallIntegerField(_("valid for (days)"), null=True, blank=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    stock = models.PositiveBigIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty: unlimited."))
    issued = models.PositiveBigIntegerField(_("issued"), default=0)
    per_member_limit = models.PositiveIntegerField(_("limit per member"), default=1)
    stackable = models.BooleanField(
        _("stackable"), default=False, help_text=_("May be used on one order together with other coupons.")
    )
    points_price = models.PositiveBigIntegerField(
        _("points price"),
        null=True,
        blank=True,
        help_text=_("Set: offered in the points mall for this many points."),
        validators=[MaxValueValidator(MAX_POINTS)],
    )
    shopper_claimable = models.BooleanField(
        _("shoppers may claim it"),
        default=False,
        help_text=_("Offered in the member centre's wallet to claim (within its audience and claim window)."),
    )
    use_channel = models.CharField(_("where it is used"), max_length=8, choices=UseChannel.choices, default="both")
    on_refund = models.CharField(
        _("when the order is refunded"), max_length=8, choices=RefundPolicy.choices, default=RefundPolicy.RESTORE
    )
    status = models.CharField(_("status"), max_length=8, choices=TemplateStatus.choices, default="active")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        constraints = [
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(issued__lte=F("stock")), name="coupon_template_within_stock"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="coupon_template_value_not_negative"),
            models.CheckConstraint(
                condition=~Q(kind="percent_off") | Q(value__gt=0, value__lt=100), name="coupon_template_percent"
            ),
            models.CheckConstraint(condition=Q(per_member_limit__gte=1), name="coupon_template_limit_positive"),
            models.CheckConstraint(
                condition=Q(valid_days__isnull=False, valid_until__isnull=True)
                | Q(valid_days__isnull=True, valid_until__isnull=False),
                name="coupon_template_one_use_window",
            ),
        ]

    def __str__(self):
        return self.name


class CouponStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    REDEEMED = "redeemed", _("Used")
    EXPIRED = "expired", _("Expired")
    VOID = "void", _("Void")


class Source(models.TextChoices):
    CLAIM = "claim", _("Claimed by the member")
    GRANT = "grant", _("Granted by staff")
    SEGMENT_GRANT = "segment_grant", _("Granted to a segment")
    COMPENSATION = "compensation", _("Compensation")
    JOIN_GIFT = "join_gift", _("Welcome gift")
    REFERRAL = "referral", _("Referral reward")
    BIRTHDAY = "birthday", _("Birthday gift")
    TIER_UPGRADE = "tier_upgrade", _("Tier upgrade gift")
    TIER_MONTHLY = "tier_monthly", _("Monthly tier pack")
    POINTS_EXCHANGE = "points_exchange", _("Bought with points")
    CAMPAIGN = "campaign", _("Campaign")
    AUTOMATION = "automation", _("Automation")
    GENERATED = "generated", _("Generated code")
    IMPORTED = "imported", _("Imported code")


class Coupon(ShopOwned):
    """One coupon. Generated and imported codes have no member until one claims or redeems them; their use window
    starts then."""

    template = ShopForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="+", verbose_name=_("template"))
    member = ShopForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    code = models.CharField(_("code"), max_length=32)
    status = models.CharField(_("status"), max_length=10, choices=CouponStatus.choices, default="available")
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    issued_at = models.DateTimeField(_("issued"))
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    # Unique per shop: a retried issue finds its first coupon. System keys contain "#", client keys cannot.
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="coupon_unique_code"),
            models.UniqueConstraint(fields=["shop", "idempotency_key"], name="coupon_unique_key"),
        ]
        indexes = [
            # A member's wallet, and the per-member limit (how many of a template the member holds).
            models.Index(fields=["shop", "member", "template"], name="coupon_member"),
            models.Index(fields=["template", "status"], name="coupon_template_status"),
            models.Index(fields=["shop", "valid_until"], condition=Q(status="available"), name="coupon_open_until"),
        ]

    def __str__(self):
        return self.code


class Reversal(models.TextChoices):
    RESTORED = "restored", _("Coupon given back")
    VOIDED = "voided", _("Coupon voided")


class Redemption(ShopOwned):
    """A coupon used on an order. A refund of the whole order reverses it; at most one redemption of a coupon is
    standing (not reversed) at a time."""

    coupon = ShopForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("coupon"))
    template = ShopForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="+", verbose_name=_("template"))
    member = ShopForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("member"))
    order_external_id = models.CharField(_("order number"), max_length=64)
    order_amount = models.DecimalField(_("order amount"), max_digits=12, decimal_places=2)
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2)
    redeemed_at = models.DateTimeField(_("used"))
    actor = models.CharField(_("by"), max_length=200, blank=True)
    reversed_at = models.DateTimeField(_("reversed"), null=True, blank=True)
    reversal = models.CharField(_("reversal"), max_length=10, choices=Reversal.choices, blank=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "coupon"], condition=Q(reversed_at__isnull=True), name="redemption_one_standing"
            ),
            models.CheckConstraint(condition=Q(discount__gte=0), name="redemption_discount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["shop", "order_external_id"], name="redemption_order"),
            models.Index(fields=["template", "reversed_at"], name="redemption_template"),
        ]


class GrantStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class GrantJob(ShopOwned):
    """A template granted to every member of a segment, in chunks by a Celery task. Members outside the template's
    audience, at its per-member limit or beyond its stock are skipped and counted. `last_member_id` is where the
    next chunk starts, so a retried task carries on instead of starting over."""

    template = ShopForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="+", verbose_name=_("template"))
    segment = ShopForeignKey(Segment, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("segment"))
    status = models.CharField(_("status"), max_length=8, choices=GrantStatus.choices, default="pending")
    idempotency_key = models.CharField(max_length=128)
    members_total = models.IntegerField(_("members"), default=0)
    members_done = models.IntegerField(_("members processed"), default=0)
    issued = models.IntegerField(_("issued"), default=0)
    skipped_audience = models.IntegerField(_("outside the audience"), default=0)
    skipped_limit = models.IntegerField(_("at the limit"), default=0)
    skipped_stock = models.IntegerField(_("out of stock"), default=0)
    last_member_id = models.BigIntegerField(default=0)
    error = models.CharField(_("error"), max_length=500, blank=True)
    actor = models.CharField(_("by"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("segment grant")
        verbose_name_plural = _("segment grants")
        constraints = [models.UniqueConstraint(fields=["shop", "idempotency_key"], name="grant_job_unique_key")]


class Occasion(models.TextChoices):
    BIRTHDAY = "birthday", _("Birthday")
    UPGRADE = "upgrade", _("Reaching the tier")
    MONTHLY = "monthly", _("Every month")


class TierGift(ShopOwned):
    """Coupons a tier's members receive: on their birthday, on reaching the tier, or on the first of every month
    (in the shop's time zone). Issued by coupons.tier_gifts."""

    tier = ShopForeignKey(Tier, on_delete=models.CASCADE, related_name="+", verbose_name=_("tier"))
    occasion = models.CharField(_("occasion"), max_length=8, choices=Occasion.choices)
    template = ShopForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="+", verbose_name=_("coupon"))
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)

    class Meta:
        verbose_name = _("tier gift")
        verbose_name_plural = _("tier gifts")
        constraints = [
            models.UniqueConstraint(fields=["shop", "tier", "occasion", "template"], name="tier_gift_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1, quantity__lte=20), name="tier_gift_quantity"),
        ]


class GiftRun(ShopOwned):
    """A birthday or monthly issue done for a period (a local date or month), so the hourly task runs it once."""

    occasion = models.CharField(max_length=8, choices=Occasion.choices)
    period = models.CharField(max_length=10)
    issued = models.IntegerField(default=0)
    finished_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "occasion", "period"], name="gift_run_unique")]


class Gift(ShopOwned):
    """A physical reward of the points mall. Coupon rewards are the templates with a points price."""

    name = models.CharField(_("name"), max_length=60)
    description = models.CharField(_("description"), max_length=200, blank=True)
    points_price = models.PositiveBigIntegerField(_("points price"), validators=[MaxValueValidator(MAX_POINTS)])
    stock = models.PositiveBigIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty: unlimited."))
    issued = models.PositiveBigIntegerField(_("exchanged"), default=0)
    active = models.BooleanField(_("on offer"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("gift")
        verbose_name_plural = _("gifts")
        constraints = [
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(issued__lte=F("stock")), name="gift_within_stock"
            ),
            models.CheckConstraint(condition=Q(points_price__gte=1), name="gift_price_positive"),
        ]

    def __str__(self):
        return self.name


class Fulfilment(models.TextChoices):
    DONE = "done", _("Done")  # a coupon: in the member's wallet at once
    PENDING = "pending", _("To ship")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")


class Exchange(ShopOwned):
    """Points spent in the mall on a coupon or a gift, in one transaction with the ledger entry. Cancelling a gift
    not yet delivered gives the points back (a ledger entry reversing the redemption) and the stock."""

    member = ShopForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("member"))
    template = ShopForeignKey(
        CouponTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("coupon")
    )
    gift = ShopForeignKey(
        Gift, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("gift")
    )
    coupon = ShopForeignKey(Coupon, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    points = models.PositiveBigIntegerField(_("points"))
    points_entry = ShopForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="+")
    refund_entry = ShopForeignKey(PointsEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=Fulfilment.choices)
    recipient_name = models.CharField(_("recipient"), max_length=50, blank=True)
    recipient_phone = models.CharField(_("recipient phone"), max_length=20, blank=True)
    address = models.CharField(_("shipping address"), max_length=200, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=128)
    body_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("exchanged"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("points exchange")
        verbose_name_plural = _("points exchanges")
        constraints = [
            models.UniqueConstraint(fields=["shop", "idempotency_key"], name="exchange_unique_key"),
            models.CheckConstraint(
                condition=Q(template__isnull=True, gift__isnull=False) | Q(template__isnull=False, gift__isnull=True),
                name="exchange_coupon_or_gift",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "status", "created_at"], name="exchange_queue"),
            models.Index(fields=["shop", "member"], name="exchange_member"),
        ]
