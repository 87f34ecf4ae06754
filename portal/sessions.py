"""What the shopper pages keep about a visitor: per shop, in the Django session, and one visitor cookie.

Sessions are per shop: the logged-in member of shop 7 is `session["portal:7"]`, so a member of one shop is nobody in
another, and logging out of one leaves the others alone. Beside it, per shop: the phone a one-time code has proved
(for ten minutes, so a shopper who logged in with a phone that is not a member joins without a second code) and the
referral code of the link the shopper came through."""

import re
import secrets
import time

from django.http import HttpRequest, HttpResponse

from shops.models import Shop

VERIFIED_FOR = 10 * 60  # seconds a proved phone lets the shopper join without another code
VISITOR_COOKIE = "hy_visitor"
VISITOR_MAX_AGE = 2 * 365 * 24 * 3600
_VISITOR = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _member_key(shop: Shop) -> str:
    return f"portal:{shop.pk}"


def _verified_key(shop: Shop) -> str:
    return f"portal:{shop.pk}:verified"


def _referral_key(shop: Shop) -> str:
    return f"portal:{shop.pk}:ref"


def member_id_of(request: HttpRequest, shop: Shop) -> int | None:
    """The id of the member logged in to `shop` in this session (not checked against the database)."""
    return request.session.get(_member_key(shop))


def log_in(request: HttpRequest, shop: Shop, member_id: int) -> None:
    """Log the member in to `shop`. The session key changes (no session fixation); the proved phone and the
    referral code, used up by joining or logging in, are dropped."""
    request.session.cycle_key()
    request.session[_member_key(shop)] = member_id
    request.session.pop(_verified_key(shop), None)
    request.session.pop(_referral_key(shop), None)


def log_out(request: HttpRequest, shop: Shop) -> None:
    """Log out of `shop` only: logins to other shops in the same browser stay."""
    request.session.pop(_member_key(shop), None)
    request.session.pop(_verified_key(shop), None)


def phone_verified_set(request: HttpRequest, shop: Shop, phone: str) -> None:
    request.session[_verified_key(shop)] = [phone, int(time.time())]


def phone_verified(request: HttpRequest, shop: Shop) -> str | None:
    """The E.164 phone a code proved in this session for `shop` within the last ten minutes."""
    found = request.session.get(_verified_key(shop))
    if not found:
        return None
    phone, at = found
    if time.time() - at > VERIFIED_FOR:
        request.session.pop(_verified_key(shop), None)
        return None
    return phone


def referral_remember(request: HttpRequest, shop: Shop, code: str) -> None:
    if request.session.get(_referral_key(shop)) != code:
        request.session[_referral_key(shop)] = code


def referral_remembered(request: HttpRequest, shop: Shop) -> str:
    return request.session.get(_referral_key(shop), "")


def visitor_of(request: HttpRequest) -> tuple[str, bool]:
    """The visitor cookie's value, or a new random one: (value, is_new)."""
    value = request.COOKIES.get(VISITOR_COOKIE, "")
    if _VISITOR.fullmatch(value):
        return value, False
    return secrets.token_urlsafe(18), True


def visitor_set(request: HttpRequest, response: HttpResponse, value: str) -> None:
    """A long-lived random cookie that tells unique visitors apart; it names nobody and holds nothing else."""
    response.set_cookie(
        VISITOR_COOKIE, value, max_age=VISITOR_MAX_AGE, httponly=True, samesite="Lax", secure=request.is_secure()
    )
