"""Recruitment: the entry points through which shoppers join (channels), their daily statistics, and referrals.

This app sits above coupons and points (SPEC 5): a channel's welcome gift names coupon templates and is issued
through the coupon and points services. Members keep `join_channel` (the channel's code) and `referrer`."""

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import MAX_POINTS
from shops.distribution import ShopForeignKey
from shops.models import ShopOwned


class ChannelKind(models.TextChoices):
    QR = "qr", _("QR code")
    LINK = "link", _("Share link")
    POSTER = "poster", _("Poster")
    SHOP_HOME = "shop_home", _("Shop-home button")
    PRODUCT_PAGE = "product_page", _("Product-page prompt")
    POPUP = "popup", _("Popup")
    FLYER = "flyer", _("Offline flyer")
    COUNTER = "counter", _("In-store counter")
    # The one channel of buyers enrolled by their first order (Shop.join_on_purchase); it has no public page.
    PURCHASE = "purchase", _("Join on purchase")


class Channel(ShopOwned):
    """An entry point with a short public address /j/<code>/. Codes are unique across shops, so the address
    alone finds the shop."""

    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=16, choices=ChannelKind.choices, default=ChannelKind.QR)
    code = models.CharField(_("code"), max_length=16, unique=True)
    headline = models.CharField(_("headline"), max_length=40, blank=True)
    benefits = models.TextField(_("benefits"), blank=True, help_text=_("One benefit per line, for the poster."))
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    welcome_points = models.PositiveBigIntegerField(
        _("welcome points"), default=0, validators=[MaxValueValidator(MAX_POINTS)]
    )
    welcome_coupons = models.ManyToManyField(
        "coupons.CouponTemplate",
        through="WelcomeCoupon",
        related_name="+",
        blank=True,
        verbose_name=_("welcome coupons"),
    )
    tags = models.ManyToManyField(
        "members.Tag", through="ChannelTag", related_name="+", blank=True, verbose_name=_("tags on joining")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "name"], name="channel_unique_name_per_shop"),
            models.UniqueConstraint(fields=["shop"], condition=Q(kind="purchase"), name="channel_one_purchase"),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gt=models.F("valid_from")),
                name="channel_window_order",
            ),
        ]

    def __str__(self):
        return self.name


class WelcomeCoupon(ShopOwned):
    channel = ShopForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    template = ShopForeignKey("coupons.CouponTemplate", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "channel", "template"], name="welcome_coupon_unique")]


class ChannelTag(ShopOwned):
    channel = ShopForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    tag = ShopForeignKey("members.Tag", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "channel", "tag"], name="channel_tag_unique")]


class ChannelDay(ShopOwned):
    """A channel's figures for one local day. Visits and unique visitors are counted in the cache as they happen
    (recruitment.stats) and written here by a periodic task; joins are counted here in the joining transaction."""

    channel = ShopForeignKey(Channel, on_delete=models.CASCADE, related_name="days")
    day = models.DateField(_("day"))
    visits = models.PositiveIntegerField(_("visits"), default=0)
    visitors = models.PositiveIntegerField(_("unique visitors"), default=0)
    joins = models.PositiveIntegerField(_("joins"), default=0)

    class Meta:
        verbose_name = _("channel day")
        verbose_name_plural = _("channel days")
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["shop", "channel", "day"], name="channel_day_unique")]


class ReferralTrigger(models.TextChoices):
    JOIN = "join", _("When the invitee joins")
    FIRST_PURCHASE = "first_purchase", _("When the invitee makes a first purchase")


class CapPeriod(models.TextChoices):
    DAY = "day", _("per day")
    WEEK = "week", _("per week")
    MONTH = "month", _("per month")


class ReferralProgram(ShopOwned):
    """A shop's referral rules. Without a row, or disabled, referrals are recorded but not rewarded."""

    enabled = models.BooleanField(_("reward referrals"), default=False)
    trigger = models.CharField(
        _("reward when"), max_length=16, choices=ReferralTrigger.choices, default=ReferralTrigger.JOIN
    )
    inviter_points = models.PositiveBigIntegerField(
        _("points for the inviter"), default=0, validators=[MaxValueValidator(MAX_POINTS)]
    )
    invitee_points = models.PositiveBigIntegerField(
        _("points for the invitee"), default=0, validators=[MaxValueValidator(MAX_POINTS)]
    )
    inviter_coupon = ShopForeignKey(
        "coupons.CouponTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("coupon for the inviter"),
    )
    invitee_coupon = ShopForeignKey(
        "coupons.CouponTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("coupon for the invitee"),
    )
    inviter_cap = models.PositiveIntegerField(_("rewarded invitations per inviter"), default=20)
    cap_period = models.CharField(_("per"), max_length=8, choices=CapPeriod.choices, default=CapPeriod.MONTH)
    ip_daily_limit = models.PositiveIntegerField(
        _("rewarded joins per network address a day"),
        default=3,
        help_text=_("More invitees joining from one address in a day are recorded without a reward."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("referral program")
        verbose_name_plural = _("referral programs")
        constraints = [models.UniqueConstraint(fields=["shop"], name="referral_program_one_per_shop")]


class ReferralCode(ShopOwned):
    """A member's referral code, made on first use. The code is unique across shops through its route, so
    /r/<code>/ alone finds the shop."""

    member = ShopForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    code = models.CharField(_("code"), max_length=16)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "member"], name="referral_code_one_per_member"),
            models.UniqueConstraint(fields=["shop", "code"], name="referral_code_unique_code"),
        ]


class ReferralCodeRoute(ShopOwned):
    """Which shop a referral code belongs to: the one global part of referral codes. On Citus it is a reference
    table (shops.distribution), so any node finds a code's shop with one local read, while the codes themselves
    stay with their members on the shop's node."""

    code = models.CharField(_("code"), max_length=16, unique=True)

    class Meta:
        verbose_name = _("referral code route")
        verbose_name_plural = _("referral code routes")


class ReferralStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the first purchase")
    REWARDED = "rewarded", _("Rewarded")
    REFUSED = "refused", _("Not rewarded")


class Referral(ShopOwned):
    """An invitee who joined through an inviter's link. One per invitee phone and shop, ever: the phone's hash
    stays when an invitee is erased, so erasing and joining again earns nothing twice."""

    inviter = ShopForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    invitee = ShopForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    invitee_phone_hash = models.CharField(max_length=64)
    status = models.CharField(_("status"), max_length=10, choices=ReferralStatus.choices)
    refusal = models.CharField(_("why not rewarded"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("joined"), default=timezone.now)
    rewarded_at = models.DateTimeField(_("rewarded"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "invitee_phone_hash"], name="referral_one_per_phone"),
            models.UniqueConstraint(fields=["shop", "invitee"], name="referral_one_per_invitee"),
        ]
        indexes = [
            models.Index(fields=["shop", "inviter", "rewarded_at"], name="referral_inviter_rewarded"),
            models.Index(fields=["shop", "status", "rewarded_at"], name="referral_leaderboard"),
        ]
