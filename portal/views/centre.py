"""The member centre (/m/<shop_slug>/me/...): the member card, the coupon wallet with claimable coupons, the points
mall, the inbox of in-app messages, the referral link, the profile and marketing consents, and the member's own data
(download, erasure).

Writes that a double click could repeat (a claim, an exchange) carry a token rendered into their form, and their
idempotency key is made of it: the same click twice issues one coupon."""

import json

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.inbox import inbox_mark_read
from campaigns.selectors import inbox_messages, inbox_unread_count
from coupons.errors import LimitReached, NotIssuable, OutOfStock
from coupons.issuance import audience_members, coupon_issue
from coupons.mall import mall_exchange
from coupons.models import CouponStatus, Gift, Source
from coupons.selectors import (
    gift_get,
    gift_list,
    mall_templates,
    member_coupons,
    templates_for_shoppers,
)
from members.models import Member
from members.services import member_erase, member_update
from members.timeline import member_data_export
from points.errors import InsufficientPoints
from points.selectors import points_summary
from recruitment.links import referral_url
from recruitment.referrals import referral_code_for
from recruitment.render import qr_svg
from recruitment.selectors import referral_program_of, referrals_of_inviter
from shops.errors import ApplicationError
from shops.ids import parse_id
from shops.models import Shop
from shops.services import audit_record
from tiers.selectors import tier_of_member, tier_progress, tiers_of_shop

from .. import sessions
from ..display import coupon_cards, progress_percent, template_cards, tier_benefits
from ..forms import ProfileForm, ShippingForm, token_valid
from .base import form_token, member_page, page, shopper_actor

WALLET_LIMIT = 200  # coupons listed in the wallet, newest first
CLAIMABLE_LIMIT = 30
CARD_COUPONS = 3  # usable coupons shown on the member card
COUNT_UP_TO = 20


def _usable(coupons, now):
    return coupons.filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))


@require_GET
@member_page
def centre(request: HttpRequest, shop: Shop, member: Member) -> HttpResponse:
    """The member card: tier and the way to the next, points (available, pending, expiring soon), the newest usable
    coupons, and the ways into the rest of the centre."""
    now = timezone.now()
    ladder = list(tiers_of_shop(shop=shop))
    tier = tier_of_member(shop=shop, member=member, ladder=ladder)
    progress = tier_progress(shop=shop, member=member, now=now, ladder=ladder)
    summary = points_summary(shop=shop, member=member, now=now, entries=0)
    # One query for the cards and the count beside them (counted up to COUNT_UP_TO, then "20+").
    usable = list(
        _usable(member_coupons(shop=shop, member=member, status=CouponStatus.AVAILABLE), now)[: COUNT_UP_TO + 1]
    )
    return page(
        request,
        shop,
        "portal/centre.html",
        {
            "member": member,
            "tier": tier,
            "tier_benefits": tier_benefits(shop, tier),
            "progress": progress,
            "progress_percent": progress_percent(progress),
            "points": summary,
            "coupons": coupon_cards(shop, usable[:CARD_COUPONS], now=now),
            "coupons_available": f"{COUNT_UP_TO}+" if len(usable) > COUNT_UP_TO else len(usable),
            "inbox_unread": inbox_unread_count(shop=shop, member_id=member.pk),
        },
    )


@require_GET
@member_page
def inbox(request: HttpRequest, shop: Shop, member: Member) -> HttpResponse:
    """The member's in-app messages, newest first; opening the inbox marks them read (the ones new until now are
    still shown as new this once)."""
    items = list(inbox_messages(shop=shop, member_id=member.pk))
    inbox_mark_read(shop=shop, member_id=member.pk)
    return page(request, shop, "portal/inbox.html", {"items": items})


def _claimable(shop: Shop, member: Member, held: dict[int, int], now) -> list:
    """Templates the member may claim now: active, not sold in the points mall, claim window open, in stock, under
    the member's limit, and meant for the member (coupon_issue checks all of it again under its lock)."""
    found = []
    for template in templates_for_shoppers(shop=shop)[:CLAIMABLE_LIMIT]:
        if (template.claim_starts_at and now < template.claim_starts_at) or (
            template.claim_ends_at and now >= template.claim_ends_at
        ):
            continue
        if template.valid_until and now >= template.valid_until:
            continue
        if template.stock is not None and template.issued >= template.stock:
            continue
        if held.get(template.pk, 0) >= template.per_member_limit:
            continue
        audience = audience_members(shop=shop, template=template, now=now)
        if audience is not None and not audience.filter(pk=member.pk).exists():
            continue
        found.append(template)
    return found


@require_GET
@member_page
def wallet(request: HttpRequest, shop: Shop, member: Member) -> HttpResponse:
    """The coupon wallet: usable coupons as cards, used and expired ones folded away, and coupons to claim."""
    now = timezone.now()
    coupons = list(member_coupons(shop=shop, member=member)[:WALLET_LIMIT])
    held: dict[int, int] = {}
    for coupon in coupons:
        held[coupon.template_id] = held.get(coupon.template_id, 0) + 1
    cards = coupon_cards(shop, coupons, now=now)
    claimable = _claimable(shop, member, held, now)
    claim_cards = template_cards(shop, claimable)
    for card, template in zip(claim_cards, claimable, strict=True):
        card["template_id"] = template.pk
    return page(
        request,
        shop,
        "portal/wallet.html",
        {
            "usable": [c for c in cards if c["usable"]],
            "spent": [c for c in cards if not c["usable"]],
            "claimable": claim_cards,
            "token": form_token(),
        },
    )


# Coupon and mall errors in the shopper's words (the services' messages speak to staff about "the member").
def _shopper_message(exc: ApplicationError) -> str:
    if isinstance(exc, OutOfStock):
        return _("Sorry, this has run out.")
    if isinstance(exc, LimitReached):
        return _("You already have as many of this coupon as allowed.")
    if isinstance(exc, InsufficientPoints):
        return _("You do not have enough points for this.")
    if isinstance(exc, NotIssuable) and exc.code == "outside_audience":
        return _("This coupon is not offered to you.")
    return str(exc.message)


@require_POST
@member_page
def claim(request: HttpRequest, shop: Shop, member: Member) -> HttpResponse:
    """Claim a coupon. The idempotency key is the member's, the template's and the form's token: a double click
    claims once."""
    token = request.POST.get("token", "")
    template_id = parse_id(request.POST.get("template", ""))
    template = None
    if template_id is not None and token_valid(token):
        template = templates_for_shoppers(shop=shop).filter(pk=template_id).first()
    if template is None:
        messages.error(request, _("This coupon cannot be claimed."))
        return redirect("portal:wallet", shop_slug=shop.slug)
    try:
        coupon_issue(
            shop=shop,
            member=member,
            template=template,
            source=Source.CLAIM,
            idempotency_key=f"portal#claim#{member.pk}#{template.pk}#{token}",
        )
    except ApplicationError as exc:
        messages.error(request, _shopper_message(exc))
    else:
        messages.success(request, _("Claimed: %(coupon)s. It is in your wallet.") % {"coupon": template.name})
    return redirect("portal:wallet", shop_slug=shop.slug)


@require_GET
@member_page
def mall(request: HttpRequest, shop: Shop, member: Member) -> HttpResponse:
    """The points mall: coupons with a points price and gifts, each exchanged with a POST."""
    templates = list(mall_templates(shop=shop)[:50])
    cards = template_cards(shop, templates)
    for card, template in zip(cards, templates, strict=True):
        card.update(template_id=template.pk, price=template.points_price)
    gifts = list(gift_list(shop=shop, active_only=True)[:50])
    for gift in gifts:
        gift.left = None if gift.stock is None else max(gift.stock - gift.issued, 0)
    return page(
        request,
        shop,
        "portal/mall.html",
        {
            "member": member,
            "coupons": cards,
            "gifts": gifts,
            "shipping": ShippingForm(initial={"recipient_name": member.name}),
            "token": form_token(),
        },
    )


@require_POST
@member_page
def exchange(request: HttpRequest, shop: Shop, member: Member) -> HttpResponse:
    """Spend points on a coupon (into the wallet at once) or a gift (shipped to the address given)."""
    token, kind, pk = request.POST.get("token", ""), request.POST.get("kind", ""), parse_id(request.POST.get("id", ""))
    if not (token_valid(token) and pk is not None and kind in ("coupon", "gift")):
        messages.error(request, _("This reward cannot be exchanged."))
        return redirect("portal:mall", shop_slug=shop.slug)
    key = f"portal#{member.pk}#{kind}{pk}#{token}"
    actor = shopper_actor(request, member)
    try:
        if kind == "coupon":
            template = mall_templates(shop=shop).filter(pk=pk).first()
            if template is None:
                messages.error(request, _("This reward is no longer offered."))
                return redirect("portal:mall", shop_slug=shop.slug)
            done, _created = mall_exchange(
                shop=shop, member=member, template=template, idempotency_key=key, actor=actor
            )
        else:
            shipping = ShippingForm(request.POST)
            if not shipping.is_valid():  # mall_exchange names a missing address; the form, what cannot be stored
                messages.error(request, next(iter(shipping.errors.values()))[0])
                return redirect("portal:mall", shop_slug=shop.slug)
            fields = shipping.cleaned_data
            gift = gift_get(shop=shop, pk=pk)
            done, _created = mall_exchange(
                shop=shop, member=member, gift=gift, idempotency_key=key, actor=actor, **fields
            )
    except Gift.DoesNotExist:
        messages.error(request, _("This reward is no longer offered."))
    except ApplicationError as exc:
        messages.error(request, _shopper_message(exc))
    else:
        if done.gift_id:
            messages.success(
                request, _("Exchanged for %(points)s points. We will ship it to you.") % {"points": done.points}
            )
        else:
            messages.success(
                request, _("Exchanged for %(points)s points. The coupon is in your wallet.") % {"points": done.points}
            )
    return redirect("portal:mall", shop_slug=shop.slug)


@require_GET
@member_page
def invite(request: HttpRequest, shop: Shop, member: Member) -> HttpResponse:
    """The member's referral link and its QR code, what the invitations came to, and the rewards if any."""
    url = referral_url(referral_code_for(shop=shop, member=member))
    program = referral_program_of(shop=shop)
    return page(
        request,
        shop,
        "portal/invite.html",
        {
            "url": url,
            # segno's SVG: markup we generate from our own URL, no user input.
            "qr": mark_safe(qr_svg(url).decode()),  # noqa: S308
            "counts": referrals_of_inviter(shop=shop, member=member),
            "program": program if program.enabled else None,
        },
    )


@require_http_methods(["GET", "POST"])
@member_page
def profile(request: HttpRequest, shop: Shop, member: Member) -> HttpResponse:
    """Name, birthday, gender, region and the marketing consents, one per channel (untick to unsubscribe). Every
    consent change is recorded by members.services with the source "portal"."""
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            member_update(
                shop=shop,
                member=member,
                actor=shopper_actor(request, member),
                source="portal",
                consents=form.consents(),
                **form.profile(),
            )
            messages.success(request, _("Saved."))
            return redirect("portal:profile", shop_slug=shop.slug)
        status = 400
    else:
        form, status = ProfileForm(initial=ProfileForm.initial_for(member)), 200
    return page(request, shop, "portal/profile.html", {"member": member, "form": form}, status=status)


@require_GET
@member_page
def privacy(request: HttpRequest, shop: Shop, member: Member) -> HttpResponse:
    return page(request, shop, "portal/privacy.html", {"member": member})


@require_POST
@member_page
def export(request: HttpRequest, shop: Shop, member: Member) -> HttpResponse:
    """The member's data as a JSON download: the same export as the dashboard's, recorded in the audit log."""
    data = member_data_export(shop=shop, member=member)
    audit_record(shop=shop, actor=shopper_actor(request, member), action="member.data_export", obj=member)
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{shop.slug}-member-{member.pk}.json"'
    return response


@require_POST
@member_page
def erase(request: HttpRequest, shop: Shop, member: Member) -> HttpResponse:
    """Erase the member's personal data now, at their own request, after they confirm; then log out."""
    if request.POST.get("confirm") != "erase":
        messages.error(request, _("Tick the box to confirm that your data should be erased."))
        return redirect("portal:privacy", shop_slug=shop.slug)
    member_erase(shop=shop, member=member, actor=shopper_actor(request, member, "own request"))
    sessions.log_out(request, shop)
    return page(request, shop, "portal/goodbye.html", {})
