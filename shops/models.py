from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from .distribution import ShopForeignKey
from .extensions import audit_action_label
from .roles import Role


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: merchant staff (through memberships) or operations staff (`is_staff`)."""

    email = models.EmailField(_("email"), unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    is_staff = models.BooleanField(_("operations staff"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return self.email


slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$",
    _("Use 3-40 lowercase letters, digits and hyphens, starting and ending with a letter or digit."),
)
colour_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #C8102E."))


class Shop(models.Model):
    """The tenant. Every shop-owned row points here."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=40, unique=True, validators=[slug_validator])
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    locale = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans")
    logo = models.ImageField(_("logo"), upload_to="shops/logos/", blank=True)
    colour = models.CharField(_("brand colour"), max_length=7, default="#C8102E", validators=[colour_validator])
    join_on_purchase = models.BooleanField(
        _("enrol buyers on their first order"),
        default=False,
        help_text=_("Orders that name a phone number which is not a member yet enrol that buyer."),
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Operations staff freeze a shop by clearing this.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        ordering = ["pk"]

    def __str__(self):
        return f"{self.name} ({self.slug})"


class ShopOwned(models.Model):
    """Base of every tenant-owned model.

    Its manager is fail-closed (django-scopes): a query outside `scope(shop=...)` raises ScopeError instead of
    returning every shop's rows. Cross-shop code must say so with `scopes_disabled()`.
    """

    # No one-column index of its own: on PostgreSQL the primary key (shop_id, id) starts with it
    # (shops.distribution), and every index costs each insert and each non-HOT update.
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, db_index=False, verbose_name=_("shop"))

    objects = ScopedManager(shop="shop")

    class Meta:
        abstract = True

    def _do_update(self, base_qs, using, pk_val, values, update_fields, forced_update):
        """`save()` of an existing row: its UPDATE never sets `shop_id` and always filters by it, since Citus refuses
        to change a row's distribution column and sends a statement to one node only when it names the shop
        (shops.distribution). A row never moves to another shop."""
        values = [value for value in values if value[0].attname != "shop_id"]
        base_qs = base_qs.filter(shop_id=self.shop_id)
        return super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update)


class StaffMembership(ShopOwned):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["shop", "user"], name="staff_unique_user_per_shop")]

    def __str__(self):
        return f"{self.user} @ {self.shop_id} ({self.role})"


class Invitation(ShopOwned):
    """An emailed invitation to join a shop's staff. Only the token's hash is stored."""

    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-pk"]
        constraints = [
            # At most one open invitation per address and shop; a new one replaces the old.
            models.UniqueConstraint(
                fields=["shop", "email"],
                condition=models.Q(accepted_at__isnull=True, cancelled_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self):
        return f"{self.email} ({self.role})"


class ApiKey(ShopOwned):
    """A shop's key for the integration API. The key is shown once; only its SHA-256 is stored.

    Keys are 256-bit random secrets, so a fast hash is enough: there is nothing to brute-force.
    """

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, help_text=_("The start of the key, to recognise it."))
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-pk"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditLogEntry(ShopOwned):
    """Who did what to which object, and for settings the values before and after. Written, never edited."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key = ShopForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(_("actor"), max_length=200)
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["shop", "-created_at"], name="audit_shop_time")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    @property
    def action_label(self) -> str:
        return audit_action_label(self.action)
