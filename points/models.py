"""The points ledger (SPEC 6, CONVENTIONS 4): append-only entries, and the lots that earning creates.

An entry is never changed or deleted; a correction is a new entry (an adjustment, or a reversal naming the entry it
reverses). A lot is what one positive entry made spendable: redemptions, negative adjustments and expiry consume the
oldest lots first, so `remaining` is the one value that changes after the fact, and always together with the entry
that consumed it. The member's cached balance (members.Member.points_balance) equals the sum of the entries and the
sum of the open lots' remainders; points.selectors.points_reconcile checks both."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import Member
from shops.models import ShopOwned


class EntryKind(models.TextChoices):
    EARN = "earn", _("earned")
    REDEEM = "redeem", _("redeemed")
    EXPIRE = "expire", _("expired")
    ADJUST = "adjust", _("adjusted")
    REVERSE = "reverse", _("reversed")


class PointsEntry(ShopOwned):
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("member"))
    kind = models.CharField(_("kind"), max_length=16, choices=EntryKind.choices)
    points = models.BigIntegerField(_("points"), help_text=_("Positive adds to the balance, negative takes from it."))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    order_external_id = models.CharField(_("order number"), max_length=64, blank=True)
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("reverses")
    )
    # Unique per shop: a retried write finds its first result. body_hash tells a replay from a conflicting reuse.
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    body_hash = models.CharField(max_length=64)
    actor = models.CharField(_("by"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("at"), db_index=False)

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

    entry = models.OneToOneField(PointsEntry, on_delete=models.PROTECT, related_name="lot")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    remaining = models.BigIntegerField()
    earned_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty: never expires."))

    class Meta:
        constraints = [
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
