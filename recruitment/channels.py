"""Writes on channels: creating and changing them (every field checked against the others and the shop),
pausing them, and the shop's join-on-purchase channel. Codes are 8 characters from an alphabet without look-alike
letters and digits, drawn from the secure random source: 32^8 codes, unique across shops."""

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from coupons.models import CouponTemplate, TemplateStatus
from members.models import MAX_POINTS, Tag
from shops.models import Shop
from shops.services import Actor, audit_record

from .errors import InvalidChannel
from .models import Channel, ChannelKind, ChannelTag, WelcomeCoupon

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8
MAX_WELCOME_COUPONS = 5


def code_new() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_normalize(raw: str) -> str:
    return str(raw).strip().upper()


@dataclass
class ChannelInput:
    name: str
    kind: str = ChannelKind.QR
    headline: str = ""
    benefits: str = ""
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    welcome_points: int = 0
    welcome_coupon_ids: list[int] = field(default_factory=list)
    tag_ids: list[int] = field(default_factory=list)


def channel_errors(*, shop: Shop, data: ChannelInput, channel: Channel | None = None) -> dict[str, str]:
    """Every rule a channel's fields must keep together, as {field: message}."""
    errors = {}
    if not data.name.strip():
        errors["name"] = _("Give the channel a name.")
    elif Channel.objects.filter(shop=shop, name=data.name.strip()).exclude(pk=getattr(channel, "pk", None)).exists():
        errors["name"] = _("Another channel already has this name.")
    if data.kind not in ChannelKind.values or (data.kind == ChannelKind.PURCHASE and channel is None):
        errors["kind"] = _("Choose one of the kinds of entry point.")
    if data.valid_from and data.valid_until and data.valid_until <= data.valid_from:
        errors["valid_until"] = _("The end must come after the start.")
    if not 0 <= data.welcome_points <= MAX_POINTS:
        errors["welcome_points"] = _("Give between 0 and %(max)s points.") % {"max": f"{MAX_POINTS:,}"}
    coupons = set(data.welcome_coupon_ids)
    if len(coupons) > MAX_WELCOME_COUPONS:
        errors["welcome_coupon_ids"] = _("A welcome gift holds at most %(max)s coupons.") % {"max": MAX_WELCOME_COUPONS}
    elif coupons:
        live = CouponTemplate.objects.filter(shop=shop, pk__in=coupons).exclude(status=TemplateStatus.ENDED)
        if live.count() != len(coupons):
            errors["welcome_coupon_ids"] = _("Choose coupon templates of this shop that have not ended.")
    tags = set(data.tag_ids)
    if tags and Tag.objects.filter(shop=shop, pk__in=tags, kind="manual").count() != len(tags):
        errors["tag_ids"] = _("Choose manual tags of this shop.")
    return errors


def _set_links(*, shop: Shop, channel: Channel, data: ChannelInput) -> None:
    WelcomeCoupon.objects.filter(shop=shop, channel=channel).exclude(template_id__in=data.welcome_coupon_ids).delete()
    WelcomeCoupon.objects.bulk_create(
        [WelcomeCoupon(shop=shop, channel=channel, template_id=pk) for pk in set(data.welcome_coupon_ids)],
        ignore_conflicts=True,
    )
    ChannelTag.objects.filter(shop=shop, channel=channel).exclude(tag_id__in=data.tag_ids).delete()
    ChannelTag.objects.bulk_create(
        [ChannelTag(shop=shop, channel=channel, tag_id=pk) for pk in set(data.tag_ids)], ignore_conflicts=True
    )


FIELDS = ("name", "kind", "headline", "benefits", "valid_from", "valid_until", "welcome_points")


@transaction.atomic
def channel_create(*, shop: Shop, actor: Actor, data: ChannelInput) -> Channel:
    """Raises InvalidChannel with {field: message} in details."""
    errors = channel_errors(shop=shop, data=data)
    if errors:
        raise InvalidChannel(details=errors)
    values = {f: getattr(data, f) for f in FIELDS} | {"name": data.name.strip()}
    for _attempt in range(5):  # a clash of random codes is rare; draw again
        try:
            with transaction.atomic():
                channel = Channel.objects.create(shop=shop, code=code_new(), **values)
            break
        except IntegrityError:
            if Channel.objects.filter(shop=shop, name=values["name"]).exists():  # a concurrent twin won
                raise InvalidChannel(details={"name": _("Another channel already has this name.")}) from None
    else:
        raise RuntimeError("no free channel code after 5 draws")
    _set_links(shop=shop, channel=channel, data=data)
    audit_record(shop=shop, actor=actor, action="channel.create", obj=channel)
    return channel


@transaction.atomic
def channel_update(*, shop: Shop, actor: Actor, channel: Channel, data: ChannelInput) -> Channel:
    """Raises InvalidChannel. The kind of the join-on-purchase channel stays."""
    assert channel.shop_id == shop.pk
    channel = Channel.objects.select_for_update().get(shop=shop, pk=channel.pk)
    if channel.kind == ChannelKind.PURCHASE:
        data.kind = ChannelKind.PURCHASE
    elif data.kind == ChannelKind.PURCHASE:
        data.kind = ""  # refused by channel_errors
    errors = channel_errors(shop=shop, data=data, channel=channel)
    if errors:
        raise InvalidChannel(details=errors)
    changes = {}
    for f in FIELDS:
        new = data.name.strip() if f == "name" else getattr(data, f)
        if getattr(channel, f) != new:
            changes[f] = [str(getattr(channel, f) or ""), str(new or "")]
            setattr(channel, f, new)
    channel.save()
    _set_links(shop=shop, channel=channel, data=data)
    audit_record(shop=shop, actor=actor, action="channel.update", obj=channel, changes=changes)
    return channel


@transaction.atomic
def channel_set_active(*, shop: Shop, actor: Actor, channel: Channel, active: bool) -> Channel:
    """Pause or resume a channel: a paused channel's page says so and nobody joins through it."""
    if Channel.objects.filter(shop=shop, pk=channel.pk).exclude(is_active=active).update(is_active=active):
        channel.is_active = active
        audit_record(shop=shop, actor=actor, action="channel.resume" if active else "channel.pause", obj=channel)
    return channel


def purchase_channel(*, shop: Shop) -> Channel:
    """The shop's join-on-purchase channel (made on first use): buyers enrolled by an order join through it, with
    its welcome gift and tags."""
    channel = Channel.objects.filter(shop=shop, kind=ChannelKind.PURCHASE).first()
    if channel:
        return channel
    try:
        with transaction.atomic():
            return Channel.objects.create(
                shop=shop, kind=ChannelKind.PURCHASE, code=code_new(), name=str(ChannelKind.PURCHASE.label)
            )
    except IntegrityError:  # made concurrently
        return Channel.objects.get(shop=shop, kind=ChannelKind.PURCHASE)
