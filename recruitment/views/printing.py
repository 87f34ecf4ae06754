"""A channel's QR codes and poster, as the dashboard and the API hand them out: the poster in the shop's language,
with its name, colour and logo, the channel's headline and benefits (by default "Scan to join" and the welcome
gift) and the channel's public address. recruitment.render draws them."""

import logging

from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

from shops.models import Shop

from .. import render
from ..links import channel_url
from ..models import Channel, ChannelKind
from ..selectors import channel_get, channel_welcome_templates
from .words import gift_lines

logger = logging.getLogger(__name__)

POSTER_SIZES = tuple(render.POSTER_SIZES)
DEFAULT_POSTER_SIZE = "A4"
LOGO_MAX_BYTES = 10 * 1024 * 1024  # an upload larger than this is not a logo; render checks the pixels too
DEBIAN_FONT_PACKAGES = ("fonts-noto-cjk", "fonts-wqy-microhei")


def printable_channel(*, shop: Shop, pk: int) -> Channel:
    """A channel with a public page, whose QR code and poster can be printed. Raises Channel.DoesNotExist for a
    missing or another shop's channel, and for the join-on-purchase channel, which has no page."""
    channel = channel_get(shop=shop, pk=pk)
    if channel.kind == ChannelKind.PURCHASE:
        raise Channel.DoesNotExist
    return channel


def attachment(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def download_name(channel: Channel, suffix: str) -> str:
    """channel-<code><suffix>: codes are letters and digits only, safe in a header."""
    return f"channel-{channel.code}{suffix}"


def qr_svg(channel: Channel) -> bytes:
    return render.qr_svg(channel_url(channel.code))


def qr_png(channel: Channel) -> bytes:
    return render.qr_png(channel_url(channel.code))


def _logo(shop: Shop) -> bytes | None:
    if not shop.logo:
        return None
    try:
        with shop.logo.open("rb") as logo:
            data = logo.read(LOGO_MAX_BYTES + 1)
    except OSError as exc:  # the file went missing from storage: the poster goes on without it
        logger.warning("shop %s: logo %s unreadable (%s)", shop.pk, shop.logo.name, exc)
        return None
    return data if len(data) <= LOGO_MAX_BYTES else None


def poster_png(*, shop: Shop, channel: Channel, size: str) -> bytes:
    """The channel's poster at `size` (one of POSTER_SIZES). Raises FontMissing when the server has no CJK font."""
    with translation.override(shop.locale):  # the poster speaks to shoppers, in the shop's language
        headline = channel.headline or _("Scan to join")
        benefits = [line for line in channel.benefits.splitlines() if line.strip()]
        if not benefits:
            benefits = gift_lines(channel=channel, templates=channel_welcome_templates(shop=shop, channel=channel))
    return render.poster_png(
        size=size,
        shop_name=shop.name,
        colour=shop.colour,
        headline=headline,
        benefits=benefits,
        url=channel_url(channel.code),
        logo=_logo(shop),
    )
