"""Using coupons: validation against a cart, single-use redemption tied to an order, what a refund does to it, and
expiry.

A redemption locks the coupon's row, so concurrent attempts on one code happen one after another: the first wins,
a retry for the same order gets the first result back, any other order gets AlreadyRedeemed. The partial unique
index on Redemption (one standing redemption per coupon) backs this up."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from events.outbox import NewEvent, emit, emit_many
from events.types import EventType
from members.models import Member, MemberStatus
from orders.models import Order, OrderStatus, Refund
from shops.models import Shop
from shops.services import SYSTEM, Actor

from .codes import code_normalize
from .errors import AlreadyRedeemed, CouponNotUsable
from .issuance import use_window
from .models import Coupon, CouponStatus, Redemption, RefundPolicy, Reversal
from .rules import Cart, Discount, Terms, coupon_discount

REASONS = {
    "member_not_active": _("The member is frozen or erased: coupons cannot be used."),
    "void": _("This coupon has been voided."),
    "not_this_member": _("This coupon belongs to another member."),
    "used": _("This coupon has already been used."),
    "expired": _("This coupon has expired."),
    "not_started": _("This coupon cannot be used yet."),
    "below_threshold": _("The order does not reach the coupon's minimum spend."),
    "outside_scope": _("No item of the order is covered by this coupon."),
    "items_required": _("This coupon covers some items only: send the order's items."),
    "item_missing": _("The item this voucher exchanges is not in the order."),
    "not_stackable": _("This coupon cannot be combined with another coupon on the same order."),
}


@dataclass(frozen=True)
class Validation:
    coupon: Coupon
    discount: Decimal = Decimal("0.00")
    reason: str = ""
    details: dict = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.reason

    @property
    def message(self) -> str:
        return str(REASONS.get(self.reason, ""))


def coupon_find(*, shop: Shop, code: str) -> Coupon:
    """The shop's coupon with this code as typed (any case, spaces and hyphens ignored). Raises DoesNotExist."""
    return Coupon.objects.select_related("template").get(shop=shop, code=code_normalize(code))


def _window(shop: Shop, coupon: Coupon, now: datetime.datetime):
    """A coupon not yet bound to a member (a generated or imported code) starts its window when it is used."""
    if coupon.member_id is None and coupon.valid_until is None:
        return use_window(coupon.template, issued_at=now, time_zone=shop.time_zone)
    return coupon.valid_from, coupon.valid_until


def _check(*, shop: Shop, coupon: Coupon, member: Member, cart: Cart, now: datetime.datetime) -> Validation:
    if member.status != MemberStatus.ACTIVE:
        return Validation(coupon, reason="member_not_active")
    if coupon.status == CouponStatus.VOID:
        return Validation(coupon, reason="void")
    if coupon.member_id is not None and coupon.member_id != member.pk:
        return Validation(coupon, reason="not_this_member")
    if coupon.status == CouponStatus.REDEEMED:
        return Validation(coupon, reason="used")
    valid_from, valid_until = _window(shop, coupon, now)
    if coupon.status == CouponStatus.EXPIRED or (valid_until is not None and now >= valid_until):
        return Validation(coupon, reason="expired", details={"valid_until": valid_until})
    if valid_from is not None and now < valid_from:
        return Validation(coupon, reason="not_started", details={"valid_from": valid_from})
    outcome = coupon_discount(Terms.of(coupon.template), cart)
    if isinstance(outcome, Discount):
        return Validation(coupon, discount=outcome.amount, details=outcome.benefit)
    return Validation(coupon, reason=outcome.reason, details=outcome.details)


def coupon_validate(
    *, shop: Shop, code: str, member: Member, cart: Cart, now: datetime.datetime | None = None
) -> Validation:
    """Whether the coupon applies to `cart` for `member`, with the discount, or the reason it does not (REASONS).
    Changes nothing. Raises Coupon.DoesNotExist for an unknown code."""
    assert member.shop_id == shop.pk
    return _check(
        shop=shop, coupon=coupon_find(shop=shop, code=code), member=member, cart=cart, now=now or timezone.now()
    )


@dataclass(frozen=True)
class Redeemed:
    redemption: Redemption
    created: bool


@transaction.atomic
def coupon_redeem(
    *,
    shop: Shop,
    code: str,
    member: Member,
    order_external_id: str,
    cart: Cart,
    actor: Actor = SYSTEM,
    now: datetime.datetime | None = None,
) -> Redeemed:
    """Use the coupon on the order `order_external_id`. A retry for the same order and member returns the first
    redemption (created=False). A code not yet bound to a member becomes the member's.

    Raises Coupon.DoesNotExist, AlreadyRedeemed (used on another order), CouponNotUsable (details["reason"] as in
    REASONS: expired, below threshold, another member's, not stackable...)."""
    assert member.shop_id == shop.pk
    now = now or timezone.now()
    found = coupon_find(shop=shop, code=code)
    coupon = Coupon.objects.select_for_update().select_related("template").get(shop=shop, pk=found.pk)
    standing = Redemption.objects.filter(shop=shop, coupon=coupon, reversed_at__isnull=True).first()
    if standing is not None:
        if standing.order_external_id == order_external_id and standing.member_id == member.pk:
            return Redeemed(standing, created=False)
        raise AlreadyRedeemed(details={"code": coupon.code})
    checked = _check(shop=shop, coupon=coupon, member=member, cart=cart, now=now)
    if not checked.valid:
        raise CouponNotUsable(checked.message, details={"reason": checked.reason})
    others = Redemption.objects.filter(shop=shop, order_external_id=order_external_id, reversed_at__isnull=True)
    if others.exists() and (not coupon.template.stackable or others.filter(template__stackable=False).exists()):
        raise CouponNotUsable(REASONS["not_stackable"], details={"reason": "not_stackable"})
    if coupon.member_id is None:  # the window first: _window starts it only while the code has no member
        coupon.valid_from, coupon.valid_until = _window(shop, coupon, now)
        coupon.member = member
    coupon.status, coupon.status_changed_at = CouponStatus.REDEEMED, now
    coupon.save(update_fields=["member", "valid_from", "valid_until", "status", "status_changed_at"])
    redemption = Redemption.objects.create(
        shop=shop,
        coupon=coupon,
        template_id=coupon.template_id,
        member=member,
        order_external_id=order_external_id,
        order_amount=cart.amount,
        discount=checked.discount,
        redeemed_at=now,
        actor=actor.label,
    )
    emit(
        shop_id=shop.pk,
        type=EventType.COUPON_REDEEMED,
        member_id=member.pk,
        occurred_at=now,
        payload={
            "coupon_id": coupon.pk,
            "template_id": coupon.template_id,
            "order_external_id": order_external_id,
            "discount": str(checked.discount),
        },
    )
    return Redeemed(redemption, created=True)


def coupons_reverse_for_order(*, shop: Shop, order_external_id: str, now: datetime.datetime | None = None) -> int:
    """The order was refunded in full or cancelled: each coupon used on it is given back (if still within its
    window; else it expires) or voided, as its template says. Runs in the caller's transaction. Returns the number
    of redemptions reversed; a second call finds none standing."""
    now = now or timezone.now()
    standing = list(
        Redemption.objects.select_for_update()
        .filter(shop=shop, order_external_id=order_external_id, reversed_at__isnull=True)
        .select_related("coupon__template")
        .order_by("coupon_id")
    )
    for redemption in standing:
        coupon = redemption.coupon
        if coupon.template.on_refund == RefundPolicy.VOID:
            redemption.reversal, coupon.status = Reversal.VOIDED, CouponStatus.VOID
        else:
            redemption.reversal = Reversal.RESTORED
            open_ = coupon.valid_until is None or now < coupon.valid_until
            coupon.status = CouponStatus.AVAILABLE if open_ else CouponStatus.EXPIRED
        redemption.reversed_at = coupon.status_changed_at = now
        redemption.save(update_fields=["reversal", "reversed_at"])
        coupon.save(update_fields=["status", "status_changed_at"])
    return len(standing)


def order_refunded(*, shop: Shop, order: Order, refund: Refund) -> None:
    """Extension point REFUND_CREATED: an order refunded in full gives back or voids the coupons used on it."""
    if order.status == OrderStatus.REFUNDED:
        coupons_reverse_for_order(shop=shop, order_external_id=order.external_id)


def order_status_changed(*, shop: Shop, order: Order, previous: str) -> None:
    """Extension point ORDER_STATUS_CHANGED: a cancelled order, likewise. Recording an order does nothing here:
    coupons are redeemed through coupons/redeem/, which names the order."""
    if order.status == OrderStatus.CANCELLED:
        coupons_reverse_for_order(shop=shop, order_external_id=order.external_id)


@transaction.atomic
def coupons_expire(*, shop: Shop, now: datetime.datetime | None = None) -> int:
    """Mark the shop's available coupons whose window has ended as expired, with a coupon.expired event each
    (set-based; a re-run finds none). Returns how many expired."""
    now = now or timezone.now()
    due = Coupon.objects.filter(shop=shop, status=CouponStatus.AVAILABLE, valid_until__lte=now)
    # Locked first, so that the events name exactly the coupons the update expires (a redemption waits).
    expiring = list(due.select_for_update().order_by("pk").values_list("pk", "member_id", "template_id"))
    expired = due.update(status=CouponStatus.EXPIRED, status_changed_at=now)
    emit_many(
        shop_id=shop.pk,
        events=[
            NewEvent(EventType.COUPON_EXPIRED, member_id, {"coupon_id": pk, "template_id": template_id}, now)
            for pk, member_id, template_id in expiring
        ],
    )
    return expired


def coupons_expiring(*, shop: Shop, within: datetime.timedelta, now: datetime.datetime | None = None):
    """Members' available coupons whose window ends within `within` from now, soonest first."""
    now = now or timezone.now()
    return (
        Coupon.objects.filter(shop=shop, status=CouponStatus.AVAILABLE, member__isnull=False)
        .filter(Q(valid_until__gt=now) & Q(valid_until__lte=now + within))
        .order_by("valid_until", "id")
    )


REMINDER_BATCH = 1000


def coupons_expiry_reminders(*, shop: Shop, now: datetime.datetime | None = None) -> int:
    """Write a coupon.expiring event for each of the shop's members' coupons expiring within
    settings.COUPON_EXPIRY_REMINDER_DAYS, in batches of REMINDER_BATCH. A coupon gets one on every daily run until
    it is used or expires: a consumer that tells the member acts once per coupon id and `ends_at`. Returns the
    number of coupons."""
    within = datetime.timedelta(days=settings.COUPON_EXPIRY_REMINDER_DAYS)
    coupons = coupons_expiring(shop=shop, within=within, now=now).values_list(
        "pk", "member_id", "template_id", "valid_until"
    )
    count = 0
    for start in range(0, coupons.count(), REMINDER_BATCH):
        batch = [
            NewEvent(
                EventType.COUPON_EXPIRING,
                member_id,
                {"coupon_id": pk, "template_id": template_id, "ends_at": ends_at.isoformat()},
            )
            for pk, member_id, template_id, ends_at in coupons[start : start + REMINDER_BATCH]
        ]
        with transaction.atomic():
            emit_many(shop_id=shop.pk, events=batch)
        count += len(batch)
    return count
