"""The points mall (SPEC 8): coupons (templates with a points price) and physical gifts bought with points, and the
fulfilment of gifts.

Invariant: an exchange, its points entry and its coupon or unit of gift stock are written in one transaction, or
none of them is. The member row is locked first (as every points write does), then the gift or template row: a
gift's `issued` changes only by one conditional UPDATE (never past `stock`), a template's under its lock
(coupons.issuance). Cancelling a gift not yet delivered gives back the points (points.services.points_refund) and
the unit of stock, in one transaction with the status change."""

from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.models import MAX_POINTS, Member, MemberStatus
from points.errors import IdempotencyConflict as PointsIdempotencyConflict
from points.services import points_redeem, points_refund
from shops.errors import ApplicationError, Conflict
from shops.idempotency import body_hash
from shops.models import Shop
from shops.services import SYSTEM, Actor, audit_record

from .errors import IdempotencyConflict, OutOfStock
from .issuance import coupon_issue
from .models import CouponTemplate, Exchange, Fulfilment, Gift, Source, TemplateStatus

MAX_KEY_LENGTH = 100  # system keys derived from it ("mall#<key>") must fit the ledger's 128 characters
GIFT_FIELDS = ("name", "description", "points_price", "stock", "active")


class NotOnOffer(Conflict):
    code = "not_on_offer"
    default_message = gettext_lazy("This reward is not offered in the points mall.")


class InvalidExchange(ApplicationError):
    code = "invalid_exchange"
    default_message = gettext_lazy("The exchange is not valid.")


class InvalidGift(ApplicationError):
    code = "invalid_gift"
    default_message = gettext_lazy("Some fields of the gift are not valid.")


class InvalidFulfilment(Conflict):
    code = "invalid_fulfilment"
    default_message = gettext_lazy("This exchange cannot be changed that way.")


def _earlier(*, shop: Shop, key: str, body_hash: str) -> Exchange | None:
    exchange = Exchange.objects.filter(shop=shop, idempotency_key=key).first()
    if exchange is not None and exchange.body_hash != body_hash:
        raise IdempotencyConflict(details={"idempotency_key": key})
    return exchange


def _shipping(recipient_name: str, recipient_phone: str, address: str) -> dict[str, str]:
    """The gift's shipping fields, stripped; InvalidExchange naming each missing or too long one."""
    fields = {
        "recipient_name": recipient_name.strip(),
        "recipient_phone": recipient_phone.strip(),
        "address": address.strip(),
    }
    errors = {}
    if not fields["address"]:
        errors["address"] = _("A gift is shipped: give the shipping address.")
    for name, most in (("recipient_name", 50), ("recipient_phone", 20), ("address", 200)):
        if len(fields[name]) > most:
            errors[name] = _("At most %(count)d characters.") % {"count": most}
    if errors:
        raise InvalidExchange(next(iter(errors.values())), details=errors)
    return fields


def _take_gift(*, shop: Shop, gift: Gift) -> None:
    """One unit of the gift's stock, by one conditional UPDATE (which also locks the row until the commit)."""
    room = Q(stock__isnull=True) | Q(issued__lt=F("stock"))
    if not Gift.objects.filter(room, shop=shop, pk=gift.pk).update(issued=F("issued") + 1):
        raise OutOfStock(_("This gift has run out."), details={"gift_id": gift.pk})


@transaction.atomic
def mall_exchange(
    *,
    shop: Shop,
    member: Member,
    template: CouponTemplate | None = None,
    gift: Gift | None = None,
    idempotency_key: str,
    recipient_name: str = "",
    recipient_phone: str = "",
    address: str = "",
    actor: Actor = SYSTEM,
) -> tuple[Exchange, bool]:
    """Spend the member's points on one coupon (`template`, into the wallet at once: status done) or one gift
    (status pending until shipped; needs a shipping address). Returns (exchange, created). A retry with the same key
    returns the first exchange (created=False); the key used with other content is IdempotencyConflict.

    All or nothing: on any error no points are taken, no stock is used and no coupon is issued. Raises
    InvalidExchange (no address for a gift, member not active, a bad key), NotOnOffer (no points price, paused or
    ended template, gift off offer), NotIssuable (member outside the coupon's audience), InsufficientPoints,
    OutOfStock, LimitReached, IdempotencyConflict."""
    assert (template is None) != (gift is None), "exchange a coupon or a gift"
    assert member.shop_id == shop.pk and (template or gift).shop_id == shop.pk
    if not 0 < len(idempotency_key) <= MAX_KEY_LENGTH:
        raise InvalidExchange(details={"idempotency_key": idempotency_key[:MAX_KEY_LENGTH]})
    body = body_hash(
        member=member.pk,
        template=template and template.pk,
        gift=gift and gift.pk,
        recipient_name=recipient_name,
        recipient_phone=recipient_phone,
        address=address,
    )
    if earlier := _earlier(shop=shop, key=idempotency_key, body_hash=body):
        return earlier, False
    member = Member.objects.select_for_update().get(shop=shop, pk=member.pk)
    # Under the member lock, an exchange of this member under the same key has committed or not started.
    if earlier := _earlier(shop=shop, key=idempotency_key, body_hash=body):
        return earlier, False
    if member.status != MemberStatus.ACTIVE:
        raise InvalidExchange(_("Only active members can spend points."), code="member_not_active")
    shipping = {"recipient_name": "", "recipient_phone": "", "address": ""}
    if gift is not None:
        shipping = _shipping(recipient_name, recipient_phone, address)
        gift = Gift.objects.get(shop=shop, pk=gift.pk)
        if not gift.active:
            raise NotOnOffer(_("This gift is no longer offered."), details={"gift_id": gift.pk})
        price, label = gift.points_price, gift.name
    else:
        template = CouponTemplate.objects.get(shop=shop, pk=template.pk)
        if template.points_price is None or template.status != TemplateStatus.ACTIVE:
            raise NotOnOffer(details={"template_id": template.pk})
        price, label = template.points_price, template.name
    key = f"mall#{idempotency_key}"
    try:
        posted = points_redeem(
            shop=shop,
            member=member,
            points=price,
            idempotency_key=key,
            reason=_("Points mall: %(reward)s") % {"reward": label},
            actor=actor,
        )
    except PointsIdempotencyConflict:  # the ledger key, taken by another member's exchange meanwhile
        raise IdempotencyConflict(details={"idempotency_key": idempotency_key}) from None
    if not posted.created:  # mall keys are written only here, with their exchange: this cannot be a replay
        raise IdempotencyConflict(details={"idempotency_key": idempotency_key})
    coupon = None
    if gift is not None:
        _take_gift(shop=shop, gift=gift)
        status = Fulfilment.PENDING
    else:
        coupon = coupon_issue(
            shop=shop, member=member, template=template, idempotency_key=key, source=Source.POINTS_EXCHANGE
        ).coupon
        status = Fulfilment.DONE
    try:
        with transaction.atomic():
            exchange = Exchange.objects.create(
                shop=shop,
                member=member,
                template=template,
                gift=gift,
                coupon=coupon,
                points=price,
                points_entry=posted.entry,
                status=status,
                idempotency_key=idempotency_key,
                body_hash=body,
                created_at=timezone.now(),
                **shipping,
            )
    except IntegrityError:  # the key, used meanwhile by another member: all of this one's writes roll back
        _earlier(shop=shop, key=idempotency_key, body_hash=body)
        raise
    return exchange, True


def _locked(shop: Shop, exchange: Exchange) -> Exchange:
    """The exchange's row only: a cancel then locks the member (points) and the gift (stock), the order in which an
    exchange locks them."""
    return Exchange.objects.select_for_update(of=("self",)).select_related("gift").get(shop=shop, pk=exchange.pk)


def _move(shop: Shop, exchange: Exchange, status: str, actor: Actor, *, fields: dict, audited: dict) -> Exchange:
    """Save a status change of the locked `exchange` (with `fields`) and audit it (with `audited` besides)."""
    changes = {"status": [exchange.status, status], **audited}
    exchange.status = status
    for name, value in fields.items():
        setattr(exchange, name, value)
    exchange.save(update_fields=["status", "updated_at", *fields])
    audit_record(shop=shop, actor=actor, action=f"mall_exchange.{status}", obj=exchange, changes=changes)
    return exchange


def _refuse(exchange: Exchange, action: str) -> InvalidFulfilment:
    if exchange.gift_id is None:
        return InvalidFulfilment(_("A coupon bought with points is in the member's wallet: it is not shipped."))
    messages = {
        Fulfilment.SHIPPED: _("This gift has already been shipped."),
        Fulfilment.DELIVERED: _("This gift has already been delivered."),
        Fulfilment.CANCELLED: _("This exchange has been cancelled."),
        Fulfilment.PENDING: _("This gift has not been shipped yet."),
    }
    if action == "cancel" and exchange.status == Fulfilment.DELIVERED:
        return InvalidFulfilment(_("A delivered gift cannot be cancelled."))
    return InvalidFulfilment(messages[exchange.status], details={"status": exchange.status})


@transaction.atomic
def mall_ship(*, shop: Shop, exchange: Exchange, tracking_number: str, actor: Actor = SYSTEM) -> Exchange:
    """A pending gift is shipped with `tracking_number`. Audited. Raises InvalidExchange (no tracking number),
    InvalidFulfilment (not a pending gift)."""
    exchange = _locked(shop, exchange)
    tracking_number = tracking_number.strip()
    if not 0 < len(tracking_number) <= 64:
        message = _("Give the tracking number (at most 64 characters).")
        raise InvalidExchange(message, details={"tracking_number": message})
    if exchange.gift_id is None or exchange.status != Fulfilment.PENDING:
        raise _refuse(exchange, "ship")
    return _move(
        shop,
        exchange,
        Fulfilment.SHIPPED,
        actor,
        fields={"tracking_number": tracking_number},
        audited={"tracking_number": ["", tracking_number]},
    )


@transaction.atomic
def mall_deliver(*, shop: Shop, exchange: Exchange, actor: Actor = SYSTEM) -> Exchange:
    """A shipped gift has arrived. Audited. Raises InvalidFulfilment (not a shipped gift)."""
    exchange = _locked(shop, exchange)
    if exchange.gift_id is None or exchange.status != Fulfilment.SHIPPED:
        raise _refuse(exchange, "deliver")
    return _move(shop, exchange, Fulfilment.DELIVERED, actor, fields={}, audited={})


@transaction.atomic
def mall_cancel(*, shop: Shop, exchange: Exchange, reason: str = "", actor: Actor = SYSTEM) -> Exchange:
    """Cancel a gift exchange that is pending or shipped: the points come back (a ledger entry reversing the
    redemption) and so does the unit of stock, with the status change, in one transaction. Audited. Raises
    InvalidFulfilment (a coupon exchange, a delivered or already cancelled gift)."""
    exchange = _locked(shop, exchange)
    if exchange.gift_id is None or exchange.status not in (Fulfilment.PENDING, Fulfilment.SHIPPED):
        raise _refuse(exchange, "cancel")
    reason = reason.strip()[:150]
    note = _("Points mall: %(reward)s cancelled") % {"reward": exchange.gift.name}
    refund = points_refund(
        shop=shop,
        entry=exchange.points_entry,
        idempotency_key=f"mall#refund#{exchange.pk}",
        reason=f"{note} · {reason}" if reason else note,
        actor=actor,
    ).entry
    Gift.objects.filter(shop=shop, pk=exchange.gift_id).update(issued=F("issued") - 1)
    return _move(
        shop,
        exchange,
        Fulfilment.CANCELLED,
        actor,
        fields={"refund_entry": refund},
        audited={"reason": ["", reason]} if reason else {},
    )


# --- The gift catalogue ------------------------------------------------------------------------------------------


def gift_errors(gift: Gift) -> dict[str, str]:
    """What is wrong with the gift's fields, as {field: message} (empty: nothing)."""
    errors = {}
    if not gift.name:
        errors["name"] = _("Give the gift a name.")
    elif len(gift.name) > 60:
        errors["name"] = _("At most %(count)d characters.") % {"count": 60}
    if len(gift.description) > 200:
        errors["description"] = _("At most %(count)d characters.") % {"count": 200}
    price = gift.points_price
    if not isinstance(price, int) or isinstance(price, bool) or not 1 <= price <= MAX_POINTS:
        errors["points_price"] = _("The price is a whole number of points, from 1 to %(max)s.") % {
            "max": f"{MAX_POINTS:,}"
        }
    stock = gift.stock
    if stock is not None and (not isinstance(stock, int) or isinstance(stock, bool) or stock < 0):
        errors["stock"] = _("The stock is a whole number, or empty for unlimited.")
    elif stock is not None and stock < gift.issued:
        errors["stock"] = _("The stock cannot be less than the %(count)d already exchanged.") % {"count": gift.issued}
    return errors


@transaction.atomic
def gift_save(*, shop: Shop, actor: Actor, gift: Gift | None = None, **fields) -> Gift:
    """Create a gift (gift=None: name and points_price required) or change some of GIFT_FIELDS of `gift`. The gift
    row is locked, so the stock is checked against the exchanges made so far. Audited as mall_gift.create or
    mall_gift.update. Raises InvalidGift (details: field -> message; nothing saved)."""
    if unknown := set(fields) - set(GIFT_FIELDS):
        raise InvalidGift(details={"fields": sorted(unknown)})
    if gift is not None:
        assert gift.shop_id == shop.pk
        gift = Gift.objects.select_for_update().get(shop=shop, pk=gift.pk)
    before = {name: getattr(gift, name) for name in GIFT_FIELDS} if gift else {}
    gift = gift or Gift(shop=shop)
    for name, value in fields.items():
        setattr(gift, name, value.strip() if isinstance(value, str) else value)
    if errors := gift_errors(gift):
        raise InvalidGift(next(iter(errors.values())), details=errors)
    gift.save()
    if before:
        changes = {n: [str(before[n]), str(getattr(gift, n))] for n in GIFT_FIELDS if before[n] != getattr(gift, n)}
        if changes:
            audit_record(shop=shop, actor=actor, action="mall_gift.update", obj=gift, changes=changes)
    else:
        audit_record(shop=shop, actor=actor, action="mall_gift.create", obj=gift, changes={"name": ["", gift.name]})
    return gift


def gift_set_active(*, shop: Shop, actor: Actor, gift: Gift, active: bool) -> Gift:
    """Offer the gift in the mall or take it off. Exchanges already made are not affected. Audited."""
    return gift_save(shop=shop, actor=actor, gift=gift, active=active)


# --- The fulfilment queue ----------------------------------------------------------------------------------------

QUEUE_ORDER = [Fulfilment.PENDING, Fulfilment.SHIPPED, Fulfilment.DELIVERED, Fulfilment.CANCELLED]


def mall_queue(*, shop: Shop, status: str = "") -> QuerySet[Exchange]:
    """Gift exchanges to fulfil, optionally of one status: pending first, then shipped, delivered and cancelled,
    the oldest first within each."""
    exchanges = Exchange.objects.filter(shop=shop, gift__isnull=False).select_related("member", "gift")
    if status:
        exchanges = exchanges.filter(status=status)
    rank = Case(*(When(status=s, then=Value(i)) for i, s in enumerate(QUEUE_ORDER)), output_field=IntegerField())
    return exchanges.order_by(rank, "created_at", "id")


def mall_queue_counts(*, shop: Shop) -> dict[str, int]:
    """How many gift exchanges there are of each status (every one of QUEUE_ORDER present)."""
    rows = Exchange.objects.filter(shop=shop, gift__isnull=False).order_by().values("status").annotate(n=Count("pk"))
    counts = dict.fromkeys(QUEUE_ORDER, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts
