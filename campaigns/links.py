"""Tracked links (SPEC 12): `/c/<token>` names one message; a visit counts a click on it and leads where the
campaign's `link_url` says. The token carries only the shop and message ids with a short HMAC, so it cannot be
forged, and the target is read from the campaign, never from the request: no open redirect.

Targets a merchant may save (`link_target_check`): a path on our site ("/m/<shop>/..."), or an http(s) URL. Either
is the merchant's own choice, stored with the campaign; the link never leads anywhere else."""

import hmac
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from shops.errors import ApplicationError

from .models import Campaign, Message

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_SALT = "campaigns.links"


class InvalidLink(ApplicationError):
    code = "invalid_link"


def _b36(number: int) -> str:
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = _DIGITS[digit] + out
        if not number:
            return out


def _signature(shop_id: int, message_id: int) -> str:
    return salted_hmac(_SALT, f"{shop_id}:{message_id}", algorithm="sha256").hexdigest()[:12]


def link_token(shop_id: int, message_id: int) -> str:
    return f"{_b36(shop_id)}.{_b36(message_id)}.{_signature(shop_id, message_id)}"


def token_parse(token: str) -> tuple[int, int] | None:
    """(shop id, message id) of a genuine token, else None."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts) or len(parts[0]) > 12 or len(parts[1]) > 13:
        return None
    try:
        shop_id, message_id = int(parts[0], 36), int(parts[1], 36)
    except ValueError:
        return None
    if not hmac.compare_digest(parts[2], _signature(shop_id, message_id)):
        return None
    return shop_id, message_id


def tracked_url(shop_id: int, message_id: int) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}/c/{link_token(shop_id, message_id)}"


def link_target_check(url: str) -> str:
    """The target as saved: a path on our site or an http(s) URL. Raises InvalidLink."""
    url = (url or "").strip()
    if not url:
        return ""
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc and "\\" not in url and "@" not in parts.netloc:
        return url
    raise InvalidLink(_("A link leads to a page of the shop (starting with /) or to an http(s) address."))


def click_record(*, shop_id: int, message_id: int) -> str | None:
    """Count a click on the message (of a token already checked, inside its shop's scope) and return where it
    leads, an absolute URL; None for a message that no longer exists or a campaign without a link."""
    target = (
        Campaign.objects.filter(shop_id=shop_id, messages__pk=message_id, messages__shop_id=shop_id)
        .values_list("link_url", flat=True)
        .first()
    )
    if not target:
        return None
    Message.objects.filter(shop_id=shop_id, pk=message_id).update(
        clicks=F("clicks") + 1, clicked_at=Coalesce(F("clicked_at"), Value(timezone.now()))
    )
    # A page that needs to know the message (an automation's survey) names it by the same signed token.
    target = target.replace("{token}", link_token(shop_id, message_id))
    if target.startswith("/"):
        return settings.PUBLIC_URL.rstrip("/") + target
    return target
