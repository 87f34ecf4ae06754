from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.models import ShopOwned


class Gender(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")


class MemberStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    FROZEN = "frozen", _("Frozen")
    ERASED = "erased", _("Erased")


class ConsentChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    PUSH = "push", _("Push")
    EMAIL = "email", _("Email")


class Member(ShopOwned):
    """A shopper enrolled in a shop's program. Phone numbers are E.164 and unique per shop among members that are
    not erased; erasure blanks personal fields but keeps the row, its orders and its aggregates."""

    phone = models.CharField(_("phone"), max_length=20)
    name = models.CharField(_("name"), max_length=50, blank=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, default=Gender.UNKNOWN)
    birthday_month = models.PositiveSmallIntegerField(_("birthday month"), null=True, blank=True)
    birthday_day = models.PositiveSmallIntegerField(_("birthday day"), null=True, blank=True)
    birth_year = models.PositiveSmallIntegerField(_("birth year"), null=True, blank=True)
    region = models.CharField(_("region"), max_length=64, blank=True)
    email = models.EmailField(_("email"), blank=True)
    external_id = models.CharField(_("platform buyer id"), max_length=64, blank=True)
    wechat_openid = models.CharField(_("WeChat openid"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=MemberStatus.choices, default=MemberStatus.ACTIVE)
    join_channel = models.CharField(_("join channel"), max_length=32, blank=True)
    referrer = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("referrer")
    )
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)
    consent_sms = models.BooleanField(_("SMS marketing"), default=False)
    consent_push = models.BooleanField(_("push marketing"), default=False)
    consent_email = models.BooleanField(_("email marketing"), default=False)
    # Aggregates of the member's orders, kept current by orders.services in the same transaction as each order.
    lifetime_spend = models.DecimalField(_("lifetime spend"), max_digits=14, decimal_places=2, default=0)
    order_count = models.IntegerField(_("orders"), default=0)
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "phone"], condition=~Q(status="erased"), name="member_unique_phone_per_shop"
            ),
            models.UniqueConstraint(
                fields=["shop", "external_id"], condition=~Q(external_id=""), name="member_unique_external_id"
            ),
            models.CheckConstraint(
                condition=Q(birthday_month__isnull=True) | Q(birthday_month__gte=1, birthday_month__lte=12),
                name="member_birthday_month_range",
            ),
            models.CheckConstraint(
                condition=Q(birthday_day__isnull=True) | Q(birthday_day__gte=1, birthday_day__lte=31),
                name="member_birthday_day_range",
            ),
            models.CheckConstraint(condition=Q(order_count__gte=0), name="member_order_count_non_negative"),
        ]
        indexes = [
            models.Index(fields=["shop", "-last_order_at", "-id"], name="member_shop_last_order"),
            models.Index(fields=["shop", "-joined_at", "-id"], name="member_shop_joined"),
            models.Index(fields=["shop", "-lifetime_spend", "-id"], name="member_shop_spend"),
            models.Index(fields=["shop", "birthday_month", "birthday_day"], name="member_shop_birthday"),
            models.Index(fields=["shop", "name"], name="member_shop_name"),
        ]

    def __str__(self):
        # Never the phone: this string reaches audit logs and admin lists read by roles that may not see phones.
        return f"{self.name or _('Member')} #{self.pk}"


class ConsentChange(ShopOwned):
    """Every change of a member's marketing consent: what, when, and where it came from (PIPL/GDPR evidence)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consent_changes")
    channel = models.CharField(_("channel"), max_length=8, choices=ConsentChannel.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=32)
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        ordering = ["-changed_at", "-pk"]
        indexes = [models.Index(fields=["shop", "member", "-changed_at"], name="consent_member_time")]
