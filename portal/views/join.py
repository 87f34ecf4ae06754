"""Becoming a member and logging in: the landing pages of a channel (/j/<code>/), of a member's referral link
(/r/<code>/) and of the shop (/m/<shop_slug>/), the one-time code, joining, logging in and out.

Nothing here tells whether a phone is a member before its code is proved: sending a code answers the same status
and body for any phone (recruitment.otp never looks at membership). Once the code is proved, joining with a phone
that is already a member logs that member in and changes nothing."""

import hashlib
import re

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from coupons.views.words import card_texts, coupon_card
from members.errors import InvalidPhoneError
from members.models import MemberStatus
from members.selectors import member_search
from members.services import Enrolment, member_enroll
from recruitment.errors import CodeRejected, RateLimited
from recruitment.models import Channel, ReferralCode, ReferralTrigger
from recruitment.otp import otp_send, otp_verify
from recruitment.selectors import (
    channel_by_code,
    channel_open,
    channel_welcome_templates,
    referral_code_owner,
    referral_program_of,
)
from recruitment.stats import visit_record
from shops.errors import ApplicationError
from shops.models import Shop
from tiers.selectors import tiers_of_shop

from .. import sessions
from ..display import ladder, template_cards
from ..forms import JoinForm, LoginForm
from .base import client_ip, current_member, in_shop, not_found, page, quiet, shared_page, shop_page, wants_json

COUNTDOWN = 60  # seconds before the send-code button offers to send again
# The form of channel and referral codes (recruitment.channels: 8 of an unambiguous alphabet; up to 16 stored).
# Anything else is no code, answered before it reaches the database (which refuses, say, a NUL byte).
CODE = re.compile(r"[0-9A-Za-z]{1,16}")


def _code(raw: str) -> str:
    return raw if CODE.fullmatch(raw or "") else ""


def _gift(shop: Shop, channel: Channel | None, referred: bool) -> dict:
    """What joining here gives: a channel's welcome gift while it is open, or, through a referral link, the
    invitee's reward when the shop rewards referrals."""
    if channel is not None:
        return {
            "points": channel.welcome_points,
            "cards": template_cards(shop, channel_welcome_templates(shop=shop, channel=channel)),
            "later": False,
        }
    if referred:
        program = referral_program_of(shop=shop)
        if program.enabled:
            cards = []
            if program.invitee_coupon_id:
                cards = [coupon_card(shop=shop, template=program.invitee_coupon, texts=card_texts(shop))]
            return {
                "points": program.invitee_points,
                "cards": cards,
                "later": program.trigger == ReferralTrigger.FIRST_PURCHASE,
            }
    return {"points": 0, "cards": [], "later": False}


def landing(
    request: HttpRequest,
    shop: Shop,
    *,
    channel: Channel | None = None,
    referral: str = "",
    form: JoinForm | None = None,
    notice: str = "",
    notice_ok: bool = True,
    countdown: bool = False,
    status: int = 200,
) -> HttpResponse:
    """The landing page: the shop, the channel's headline, what joining gives, the tiers and the join form. As a new
    visitor sees it (no form data, no referral, no confirmed phone, no message) it is a shared page."""
    referral = referral or sessions.referral_remembered(request, shop)
    verified = sessions.phone_verified(request, shop)
    logged_in = sessions.member_id_of(request, shop) is not None

    def context() -> dict:
        benefits = [line.strip() for line in (channel.benefits if channel else "").splitlines() if line.strip()]
        return {
            "channel": channel,
            "headline": (channel.headline if channel else "") or _("Join %(shop)s") % {"shop": shop.name},
            "benefits": benefits,
            "gift": _gift(shop, channel, referred=bool(referral)),
            "tiers": ladder(shop, list(tiers_of_shop(shop=shop))),
            "form": form or JoinForm(initial={"phone": verified} if verified else None, verified_phone=verified),
            "verified_phone": verified,
            "channel_code": channel.code if channel else "",
            "referral": referral,
            "logged_in": logged_in,
            "notice": notice,
            "notice_ok": notice_ok,
            "countdown": COUNTDOWN if countdown else 0,
        }

    shared = form is None and not (notice or referral or verified or request.GET) and status == 200 and quiet(request)
    if not shared:
        return page(request, shop, "portal/landing.html", context(), status=status)
    # What the page shows of the shop and the channel is in the key, so that their edits show at once.
    shown = (
        shop.name,
        shop.colour,
        shop.logo.name,
        channel and (channel.code, channel.headline, channel.benefits, channel.welcome_points),
    )
    digest = hashlib.sha256(repr(shown).encode()).hexdigest()[:16]
    key = f"landing:{channel.pk if channel else 0}:{int(logged_in)}:{digest}"
    return shared_page(request, shop, "portal/landing.html", key, context)


@require_GET
def channel_page(request: HttpRequest, code: str) -> HttpResponse:
    """/j/<code>/: a channel's landing page. Every visit is counted (unique visitors by a cookie); a channel that is
    paused, over or not started yet says so, with a way to the shop's home page."""
    if not _code(code):
        return not_found(request)
    try:
        channel = channel_by_code(code=code)
    except Channel.DoesNotExist:
        return not_found(request)
    shop = channel.shop

    def answer() -> HttpResponse:
        visitor, new = sessions.visitor_of(request)
        visit_record(shop=shop, channel=channel, visitor=visitor)
        if channel_open(channel):
            response = landing(request, shop, channel=channel)
        else:
            # 200, not 410: a printed QR code outlives its campaign, the channel may open (again) later, and this
            # is a real page with a way on to the shop, not an error.
            response = page(request, shop, "portal/closed.html", {"channel": channel})
        if new:
            sessions.visitor_set(request, response, visitor)
        return response

    return in_shop(request, shop, answer)


@require_GET
def referral_page(request: HttpRequest, code: str) -> HttpResponse:
    """/r/<code>/: a member's referral link. The code is remembered in the session for this shop, so the invitee's
    joining names the inviter (recruitment checks the inviter and the fraud limits then)."""
    if not _code(code):
        return not_found(request)
    try:
        owner = referral_code_owner(code=code)
    except ReferralCode.DoesNotExist:
        return not_found(request)
    shop = owner.shop

    def answer() -> HttpResponse:
        sessions.referral_remember(request, shop, owner.code)
        return landing(request, shop, referral=owner.code)

    return in_shop(request, shop, answer)


@require_GET
@shop_page
def home(request: HttpRequest, shop: Shop) -> HttpResponse:
    """/m/<shop_slug>/: the shop's own landing page, without a channel."""
    return landing(request, shop)


def _posted_channel(shop: Shop, code: str) -> Channel | None:
    """The channel a form names in its hidden field, if it is one of this shop's."""
    if not _code(code):
        return None
    try:
        channel = channel_by_code(code=code)
    except Channel.DoesNotExist:
        return None
    return channel if channel.shop_id == shop.pk else None


def _posted_referral(request: HttpRequest, shop: Shop) -> str:
    return _code(request.POST.get("ref", "")) or sessions.referral_remembered(request, shop)


def _log_in(request: HttpRequest, shop: Shop, member) -> HttpResponse:
    if member.status != MemberStatus.ACTIVE:
        form = LoginForm(initial={"phone": request.POST.get("phone", "")})
        message = _("This membership is suspended. Please contact the shop.")
        return login_page(request, shop, form=form, notice=message, notice_ok=False, status=403)
    sessions.log_in(request, shop, member.pk)
    return redirect(_next_url(request, shop))


def _next_url(request: HttpRequest, shop: Shop) -> str:
    """Where to go after logging in: `next` when it is one of this shop's pages, else the member centre."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    prefix = reverse("portal:home", args=[shop.slug])
    safe = url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=False)
    if wanted and safe and wanted.startswith(prefix) and not wanted.startswith("//"):
        return wanted
    return reverse("portal:centre", args=[shop.slug])


@require_POST
@shop_page
def send_code(request: HttpRequest, shop: Shop) -> HttpResponse:
    """Send a one-time code. The answer depends only on the phone's form and the sending limits, never on whether
    it is a member's. The page's script gets JSON {code, message}; a plain form post gets its page again."""
    try:
        otp_send(shop=shop, phone=request.POST.get("phone", ""), ip=client_ip(request))
    except (InvalidPhoneError, RateLimited) as exc:
        status, code, message = exc.status, exc.code, str(exc.message)
    else:
        status, code = 200, "sent"
        message = _("If this number can receive text messages, a code is on its way. It is valid for 5 minutes.")
    if wants_json(request):
        return JsonResponse({"code": code, "message": message}, status=status)
    sent = status == 200
    initial = {k: v for k, v in request.POST.items() if k not in ("code", "csrfmiddlewaretoken")}
    if request.POST.get("page") == "login":
        form = LoginForm(initial=initial)
        return login_page(request, shop, form=form, notice=message, notice_ok=sent, countdown=sent, status=status)
    form = JoinForm(initial=initial, verified_phone=sessions.phone_verified(request, shop))
    return landing(
        request,
        shop,
        channel=_posted_channel(shop, request.POST.get("channel", "")),
        referral=_posted_referral(request, shop),
        form=form,
        notice=message,
        notice_ok=sent,
        countdown=sent,
        status=status,
    )


@require_POST
@shop_page
def join(request: HttpRequest, shop: Shop) -> HttpResponse:
    """Join with a proved phone, then the member centre. A wrong code is a form error and nothing is written; a
    phone that is already a member logs that member in and changes nothing."""
    channel = _posted_channel(shop, request.POST.get("channel", ""))
    referral = _posted_referral(request, shop)
    form = JoinForm(request.POST, verified_phone=sessions.phone_verified(request, shop))

    def again(status: int) -> HttpResponse:
        return landing(request, shop, channel=channel, referral=referral, form=form, status=status)

    if not form.is_valid():
        return again(400)
    data = form.cleaned_data
    if form.code_needed():
        try:
            otp_verify(shop=shop, phone=data["phone"], code=data["code"])
        except CodeRejected as exc:
            form.add_error("code", exc.message)
            return again(400)
        except RateLimited as exc:
            form.add_error("code", exc.message)
            return again(429)
    try:
        member, _created = member_enroll(
            shop=shop,
            data=Enrolment(
                phone=data["phone"],
                **form.profile(),
                channel=channel.code if channel else "",
                referrer_code=referral,
                ip=client_ip(request),
                consents=form.consents(),
            ),
            source="portal",
        )
    except ApplicationError as exc:
        form.add_error(None, exc.message)
        return again(exc.status)
    return _log_in(request, shop, member)


def login_page(
    request: HttpRequest,
    shop: Shop,
    *,
    form: LoginForm | None = None,
    notice: str = "",
    notice_ok: bool = True,
    countdown: bool = False,
    status: int = 200,
) -> HttpResponse:
    return page(
        request,
        shop,
        "portal/login.html",
        {
            "form": form or LoginForm(),
            "next": request.POST.get("next") or request.GET.get("next") or "",
            "channel_code": request.POST.get("channel") or request.GET.get("channel") or "",
            "notice": notice,
            "notice_ok": notice_ok,
            "countdown": COUNTDOWN if countdown else 0,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@shop_page
def login(request: HttpRequest, shop: Shop) -> HttpResponse:
    """Log in with the phone and a code. A proved phone that is not a member goes to the join form with the phone
    kept: the session remembers it for ten minutes, so no second code is asked."""
    if request.method == "GET":
        if current_member(request, shop) is not None:
            return redirect("portal:centre", shop_slug=shop.slug)
        return login_page(request, shop)
    form = LoginForm(request.POST)
    if not form.is_valid():
        return login_page(request, shop, form=form, status=400)
    try:
        phone = otp_verify(shop=shop, phone=form.cleaned_data["phone"], code=form.cleaned_data["code"])
    except CodeRejected as exc:
        form.add_error("code", exc.message)
        return login_page(request, shop, form=form, status=400)
    except RateLimited as exc:
        form.add_error("code", exc.message)
        return login_page(request, shop, form=form, status=429)
    member = member_search(shop=shop, phone=phone).exclude(status=MemberStatus.ERASED).first()
    if member is not None:
        return _log_in(request, shop, member)
    sessions.phone_verified_set(request, shop, phone)
    messages.info(request, _("Your number is confirmed but not a member yet. Complete the form below to join."))
    channel = _posted_channel(shop, request.POST.get("channel", ""))
    if channel is not None:
        return redirect("portal:channel", code=channel.code)
    return redirect("portal:home", shop_slug=shop.slug)


@require_POST
@shop_page
def logout(request: HttpRequest, shop: Shop) -> HttpResponse:
    """Log out of this shop (other shops' logins in this browser stay)."""
    sessions.log_out(request, shop)
    messages.info(request, _("You have logged out."))
    return redirect("portal:home", shop_slug=shop.slug)
