from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from members.models import Member
from shops.distribution import ShopForeignKey
from shops.models import ShopOwned


class OrderStatus(models.TextChoices):
    PAID = "paid", _("Paid")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")


# Orders in these statuses count towards a member's order count and spend.
COUNTED_STATUSES = (
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.COMPLETED,
    OrderStatus.PARTIALLY_REFUNDED,
)


class Order(ShopOwned):
    """A purchase fact from the merchant's systems, idempotent by external id. Members' aggregates derive from it."""

    external_id = models.CharField(_("order number"), max_length=64)
    member = ShopForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="orders", verbose_name=_("member")
    )
    amount = models.DecimalField(_("amount paid"), max_digits=12, decimal_places=2)
    refunded_amount = models.DecimalField(_("refunded"), max_digits=12, decimal_places=2, default=0)
    paid_at = models.DateTimeField(_("paid"))
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PAID)
    points_earned = models.BigIntegerField(_("points earned"), default=0)
    # SHA-256 of the order as first received: a replay with another body is a conflict, not an overwrite.
    body_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="order_unique_external_id"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0, refunded_amount__lte=F("amount")), name="order_refund_within_amount"
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "-paid_at", "-id"], name="order_shop_paid"),
            models.Index(fields=["shop", "member", "-paid_at"], name="order_shop_member_paid"),
        ]

    def __str__(self):
        return self.external_id


class OrderItem(ShopOwned):
    order = ShopForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=200, blank=True)
    category = models.CharField(_("category"), max_length=64, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("order item")
        verbose_name_plural = _("order items")
        constraints = [models.CheckConstraint(condition=Q(unit_price__gte=0), name="item_price_non_negative")]
        indexes = [models.Index(fields=["shop", "category"], name="item_shop_category")]


class Refund(ShopOwned):
    """A full or partial refund of an order, idempotent by its own external id."""

    order = ShopForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    external_id = models.CharField(_("refund number"), max_length=64)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    refunded_at = models.DateTimeField(_("refunded"))
    body_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="refund_unique_external_id"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]
