"""A campaign message's links (SPEC 12): the tracked link `/c/<token>`, which counts a click and leads where the
campaign says, and the opt-out page `/c/<token>/unsubscribe/`, which withdraws the message's channel consent.

The token is signed (campaigns.links): a forged, altered or unknown one is the portal's 404, as is a message of a
shop that is frozen or gone. The redirect's target is the campaign's saved link, never anything in the request."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods

from campaigns.links import click_record, token_parse
from campaigns.models import Channel
from campaigns.selectors import message_of_link
from members.models import MemberStatus
from members.services import member_update
from shops.models import Shop
from shops.selectors import shop_by_id

from .base import in_shop, not_found, page, shopper_actor

# The channels whose messages carry an opt-out: the member's consent for them can be withdrawn. In-app messages need
# no marketing consent (campaigns.audience), so they have nothing to opt out of here.
OPT_OUT_CHANNELS = (Channel.SMS, Channel.PUSH)


def shop_of_token(token: str) -> tuple[Shop, int] | None:
    """The active shop and the message id a genuine token names, else None."""
    parsed = token_parse(token)
    if parsed is None:
        return None
    shop_id, message_id = parsed
    try:
        shop = shop_by_id(pk=shop_id)
    except Shop.DoesNotExist:
        return None
    if not shop.is_active:
        return None
    return shop, message_id


def nowhere(request: HttpRequest) -> HttpResponse:
    response = not_found(request)
    add_never_cache_headers(response)
    return response


@require_GET
def campaign_link(request: HttpRequest, token: str) -> HttpResponse:
    """Count a click on the message and go where its campaign's link leads (302, never cached: every visit is a
    click). Query parameters are ignored: nothing in the request chooses the target."""
    found = shop_of_token(token)
    if found is None:
        return nowhere(request)
    shop, message_id = found

    def go() -> HttpResponse:
        target = click_record(shop_id=shop.pk, message_id=message_id)
        if target is None:
            return not_found(request)
        return HttpResponseRedirect(target)

    return in_shop(request, shop, go)


@require_http_methods(["GET", "POST"])
def campaign_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """Ask, then (POST) withdraw the consent of the message's channel, recorded with the source "link". A repeat
    shows the same confirmation and records nothing more."""
    found = shop_of_token(token)
    if found is None:
        return nowhere(request)
    shop, message_id = found

    def answer() -> HttpResponse:
        message = message_of_link(shop=shop, pk=message_id)
        member = message.member
        if message.channel not in OPT_OUT_CHANNELS or member.status == MemberStatus.ERASED:
            return not_found(request)
        done = request.method == "POST"
        if done:
            member_update(
                shop=shop,
                member=member,
                actor=shopper_actor(request, member, "opt-out link"),
                source="link",
                consents={message.channel: False},
            )
        return page(
            request,
            shop,
            "portal/unsubscribe.html",
            {"channel": message.channel, "done": done, "sms": message.channel == Channel.SMS},
        )

    return in_shop(request, shop, answer)
