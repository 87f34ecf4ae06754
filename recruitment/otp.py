"""One-time codes by SMS for the shopper pages: 6 digits, valid 5 minutes, at most 5 attempts, single use.

Sending is limited to 5 codes per phone an hour and 10 a day, whichever shops send them (the SMS cost and the
nuisance are the phone's), and to 20 per network address an hour (recruitment.limits, Redis-backed).
Only an HMAC of the code is kept, compared in constant time. Sending never looks at whether the phone is a
member, so the answer (and its time) is the same for a member's phone and a new one."""

import hashlib
import hmac
import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import override

from members.services import phone_normalize
from shops.models import Shop
from shops.services import sms_send

from . import limits
from .errors import CodeRejected, RateLimited

CODE_DIGITS = 6
CODE_TTL = 5 * 60
MAX_ATTEMPTS = 5
# Per phone across all shops: one phone could otherwise be sent 5 codes an hour by each shop on the platform.
SENDS_PER_PHONE_HOUR = 5
SENDS_PER_PHONE_DAY = 10
SENDS_PER_IP_HOUR = 20


def _digest(shop: Shop, phone: str, code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"otp:{shop.pk}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _code_key(shop: Shop, phone: str) -> str:
    return f"otp:{shop.pk}:{phone}"


def _tries_key(shop: Shop, phone: str) -> str:
    return f"otp-tries:{shop.pk}:{phone}"


def otp_send(*, shop: Shop, phone: str, ip: str) -> str:
    """Send a new code to `phone` (any common format) and return the phone as E.164. A new code replaces the last.

    Raises InvalidPhoneError, RateLimited (5 per phone an hour and 10 a day across shops, 20 per address an
    hour; a refused send counts in none of them)."""
    phone = phone_normalize(phone)
    # The phone's windows carry no shop id on purpose: they count every shop's sends to that phone.
    limits.hit_all_or_refuse(
        (f"otp-ip:{ip}", SENDS_PER_IP_HOUR, limits.HOUR),
        (f"otp-phone:{phone}", SENDS_PER_PHONE_HOUR, limits.HOUR),
        (f"otp-phone-day:{phone}", SENDS_PER_PHONE_DAY, limits.DAY),
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    # The expiry travels with the digest: the code ends on our clock, not only when the cache drops the key.
    cache.set(_code_key(shop, phone), (_digest(shop, phone, code), time.time() + CODE_TTL), timeout=CODE_TTL)
    cache.set(_tries_key(shop, phone), 0, timeout=CODE_TTL)
    with override(shop.locale):
        text = _("[%(shop)s] Your code is %(code)s. It is valid for 5 minutes; do not share it.") % {
            "shop": shop.name,
            "code": code,
        }
    sms_send(shop=shop, phone=phone, text=text)
    return phone


def otp_verify(*, shop: Shop, phone: str, code: str) -> str:
    """Check a code for `phone` and use it up. Returns the phone as E.164.

    Raises InvalidPhoneError, CodeRejected (wrong, expired or used: one answer), RateLimited (attempts used up:
    the code is gone and a new one must be requested)."""
    phone = phone_normalize(phone)
    key = _code_key(shop, phone)
    try:
        tries = cache.incr(_tries_key(shop, phone))
    except ValueError:  # no code was sent, or it expired
        raise CodeRejected() from None
    if tries > MAX_ATTEMPTS:
        # The code is not deleted here: the counter refuses every later try until a new code resets it, and a
        # delete would also defeat the right code of an earlier try still in flight (a burst of double submits).
        raise RateLimited(_("Too many wrong codes. Request a new code."))
    expected, expires_at = cache.get(key) or ("", 0.0)
    given = _digest(shop, phone, str(code).strip())
    if not hmac.compare_digest(expected, given) or time.time() >= expires_at:
        raise CodeRejected()
    # Single use: of two requests racing with the right code, only the one whose delete removed the key wins.
    if not cache.delete(key):
        raise CodeRejected()
    cache.delete(_tries_key(shop, phone))
    return phone
