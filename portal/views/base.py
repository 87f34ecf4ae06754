"""The plumbing of every shopper page: the shop (from the address), its language (unless the shopper chose one) and
time zone, its tenant scope around the whole request (rendering included), the logged-in member, and the portal's own
404 page. A page for a shop that does not exist, is frozen or is not the one a code belongs to is that 404."""

import secrets
from collections.abc import Callable
from functools import wraps
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.translation import gettext as _

from members.models import Member, MemberStatus
from members.selectors import member_get_live_sql
from shops import csp
from shops.cache import optional_cache
from shops.models import Shop
from shops.selectors import shop_by_slug
from shops.services import Actor
from shops.tenancy import shop_scope
from shops.time import shop_zone

from .. import sessions
from ..display import brand

# How long a shared page (a landing page as every new visitor sees it) is kept rendered: edits of the tiers and of
# coupon templates show within this time; a channel's or the shop's own fields are in its key, so theirs at once.
SHARED_PAGE_TTL = 30
CSRF_PLACEHOLDER = "portal-csrf-token-placeholder"


def not_found(request: HttpRequest) -> HttpResponse:
    """The portal's own small 404: an unknown code or shop, in the shopper's language."""
    return render(request, "portal/not_found.html", status=404)


def _language_of(request: HttpRequest, shop: Shop) -> str:
    """The language the shopper chose with the switch (Django's language cookie), else the shop's."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if chosen:
        try:
            return translation.get_supported_language_variant(chosen)
        except LookupError:
            pass
    return shop.locale


def in_shop(request: HttpRequest, shop: Shop, page: Callable[[], HttpResponse]) -> HttpResponse:
    """Answer `page()` as the shop's page: its language and time zone active, inside its scope. A selector's
    DoesNotExist (missing, or another shop's) becomes the portal's 404."""
    translation.activate(_language_of(request, shop))
    request.LANGUAGE_CODE = translation.get_language()
    timezone.activate(shop_zone(shop))
    try:
        with shop_scope(shop):
            try:
                response = page()
            except ObjectDoesNotExist:
                response = not_found(request)
    finally:
        timezone.deactivate()
    # Pages carry a CSRF token and the shopper's own data: never kept by a shared cache.
    add_never_cache_headers(response)
    patch_vary_headers(response, ("Cookie",))
    return response


def shop_page(view):
    """A page under /m/<shop_slug>/: view(request, shop, ...) for an active shop, else the 404."""

    @wraps(view)
    def wrapper(request, shop_slug: str, *args, **kwargs):
        try:
            shop = shop_by_slug(slug=shop_slug)
        except Shop.DoesNotExist:
            return not_found(request)
        if not shop.is_active:
            return not_found(request)
        return in_shop(request, shop, lambda: view(request, shop, *args, **kwargs))

    return wrapper


def current_member(request: HttpRequest, shop: Shop) -> Member | None:
    """The member logged in to `shop`, if any. A member frozen or erased since logging in is logged out."""
    member_id = sessions.member_id_of(request, shop)
    if member_id is None:
        return None
    try:
        member = member_get_live_sql(shop=shop, pk=member_id)
    except Member.DoesNotExist:
        member = None
    if member is None or member.status != MemberStatus.ACTIVE:
        sessions.log_out(request, shop)
        messages.info(request, _("Your membership is not active. Please contact the shop."))
        return None
    return member


def member_page(view):
    """A member-centre page: view(request, shop, member, ...), or the login page (then back here) when nobody is
    logged in to this shop."""

    @shop_page
    @wraps(view)
    def wrapper(request, shop: Shop, *args, **kwargs):
        member = current_member(request, shop)
        if member is None:
            login = reverse("portal:login", args=[shop.slug])
            back = request.get_full_path() if request.method == "GET" else reverse("portal:centre", args=[shop.slug])
            return redirect(f"{login}?next={quote(back)}")
        return view(request, shop, member, *args, **kwargs)

    return wrapper


def _frame(request: HttpRequest, shop: Shop, context: dict) -> dict:
    """What every page's frame shows: the shop, its colours, the language switch."""
    home = reverse("portal:home", args=[shop.slug])
    return {
        "shop": shop,
        "brand": brand(shop),
        "home_url": home,
        # The language switch comes back to this page; after a POST, to the shop's home.
        "language_next": request.get_full_path() if request.method == "GET" else home,
        **context,
    }


def page(request: HttpRequest, shop: Shop, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    """Render a shopper page in the shop's frame."""
    return render(request, template, _frame(request, shop, context), status=status)


def shared_page(request: HttpRequest, shop: Shop, template: str, key: str, context: Callable[[], dict]) -> HttpResponse:
    """A page that is the same for every shopper who sees it (given what `key` names), kept rendered in the cache
    for SHARED_PAGE_TTL seconds: `context()` is called only when it is not there. The CSRF token and the CSP nonce,
    which differ per response, are rendered as placeholders and put in per request. Keys name the shop (they start
    with its id)."""
    key = f"portal:page:{shop.pk}:{translation.get_language()}:{key}"
    html = optional_cache.get(key)
    if html is None:
        placeholders = {"csrf_token": CSRF_PLACEHOLDER, "csp_nonce": csp.NONCE_PLACEHOLDER}
        html = render_to_string(template, {**_frame(request, shop, context()), **placeholders}, request=request)
        optional_cache.set(key, html, SHARED_PAGE_TTL)
    html = html.replace(CSRF_PLACEHOLDER, get_token(request))
    if csp.NONCE_PLACEHOLDER in html:
        html = html.replace(csp.NONCE_PLACEHOLDER, str(request.csp_nonce))
    return HttpResponse(html)


def quiet(request: HttpRequest) -> bool:
    """No message is waiting to be shown (a page with one is not a shared page). Looking does not use them up."""
    return not len(messages.get_messages(request))


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def shopper_actor(request: HttpRequest, member: Member, what: str = "portal") -> Actor:
    """The audit log's actor for what a shopper does to their own data: the system, labelled with the member."""
    return Actor(label=f"member #{member.pk} ({what})", ip_address=client_ip(request) or None)


def form_token() -> str:
    """A fresh token for a form whose submission must happen once (a claim, an exchange): a double click sends the
    same token twice, and the write's idempotency key is made of it."""
    return secrets.token_urlsafe(12)


def wants_json(request: HttpRequest) -> bool:
    """The page's script (static/portal/portal.js) asks for JSON; a plain form post gets the page again."""
    return request.headers.get("Accept", "").startswith("application/json")
