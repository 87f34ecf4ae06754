"""Editing the tier gifts (coupons.models.TierGift) from the dashboard; coupons.tier_gifts issues them.

A gift joins a tier of the shop's ladder and a coupon template of the same shop, once per tier, occasion and
template (a UniqueConstraint behind the check here), with a quantity of 1 to 20 (a CheckConstraint besides)."""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shops.errors import ApplicationError
from shops.models import Shop
from shops.services import Actor, audit_record
from tiers.models import Tier
from tiers.rules import RETIRED_RANK

from .models import CouponTemplate, Occasion, TemplateStatus, TierGift

MAX_QUANTITY = 20


class InvalidTierGift(ApplicationError):
    """details: {field: message}, field one of tier, occasion, template, quantity."""

    code = "invalid_tier_gift"
    default_message = gettext_lazy("This tier gift is not valid.")


def _refuse(field: str, message: str) -> InvalidTierGift:
    return InvalidTierGift(message, details={field: message})


def _describe(gift: TierGift) -> str:
    return f"{gift.tier.name} · {gift.get_occasion_display()} · {gift.template.name} × {gift.quantity}"


@transaction.atomic
def tier_gift_add(
    *, shop: Shop, actor: Actor, tier: Tier, occasion: str, template: CouponTemplate, quantity: int
) -> TierGift:
    """Give `quantity` coupons of `template` to the tier's members on `occasion` (Occasion). Raises
    InvalidTierGift: a tier or template of another shop, a tier no longer on the ladder, an ended template, an
    upgrade gift on the tier held on joining (nobody reaches it), a quantity outside 1-20, or a gift the tier
    already has for that occasion and template."""
    if tier.shop_id != shop.pk or tier.rank >= RETIRED_RANK:
        raise _refuse("tier", _("Choose a tier of this shop's ladder."))
    if template.shop_id != shop.pk:
        raise _refuse("template", _("Choose a coupon of this shop."))
    if template.status == TemplateStatus.ENDED:
        raise _refuse("template", _("This coupon has ended: choose another one."))
    if occasion not in Occasion.values:
        raise _refuse("occasion", _("Choose when the coupons are given."))
    if occasion == Occasion.UPGRADE and tier.rank == 0:
        raise _refuse("occasion", _("Members hold this tier from joining: nobody reaches it. Choose another occasion."))
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise _refuse("quantity", _("Give between 1 and %(max)d coupons.") % {"max": MAX_QUANTITY})
    duplicate = _("This tier already gets this coupon on this occasion; remove that gift first to change it.")
    if TierGift.objects.filter(shop=shop, tier=tier, occasion=occasion, template=template).exists():
        raise _refuse("template", duplicate)
    try:
        with transaction.atomic():
            gift = TierGift.objects.create(
                shop=shop, tier=tier, occasion=occasion, template=template, quantity=quantity
            )
    except IntegrityError:  # added meanwhile by someone else
        raise _refuse("template", duplicate) from None
    audit_record(shop=shop, actor=actor, action="tier_gift.add", obj=gift, changes={"gift": ["", _describe(gift)]})
    return gift


@transaction.atomic
def tier_gift_remove(*, shop: Shop, actor: Actor, gift: TierGift) -> None:
    """Stop giving these coupons. Coupons already issued stay with their members."""
    assert gift.shop_id == shop.pk, "a tier gift of another shop"
    audit_record(shop=shop, actor=actor, action="tier_gift.remove", obj=gift, changes={"gift": [_describe(gift), ""]})
    gift.delete()
