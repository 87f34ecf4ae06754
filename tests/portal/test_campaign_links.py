"""A campaign message's links (SPEC 12): `/c/<token>` counts a click and leads only where the campaign says; a token
that is not genuine, or names another shop's message, leads nowhere; the opt-out page withdraws the channel's
consent with the source "link", and the next campaign suppresses the member as unsubscribed."""

import pytest
from django.conf import settings

from campaigns.links import InvalidLink, link_target_check, link_token
from members.models import ConsentChange, Member
from tests.campaigns.helpers import members, rows, started

from .helpers import text

pytestmark = pytest.mark.django_db

PAGE = "/m/shop-a/me/coupons/"
SALE = "https://shop-a.example/sale?from=sms"


@pytest.fixture
def member(shop) -> Member:
    (member,) = members(shop, 1, name="小王")
    return member


def message_of(shop, **fields):
    """The member's message of a campaign just started (its rows written, nothing sent)."""
    campaign = started(shop, holdout_percent=0, **fields)
    return rows(shop, campaign).get()


def link_of(message) -> str:
    return f"/c/{link_token(message.shop_id, message.pk)}"


def assert_not_found(response):
    assert response.status_code == 404
    assert 'data-testid="portal-not-found"' in text(response)
    assert "Location" not in response


def test_a_click_counts_once_in_clicked_at_and_leads_to_the_saved_page(shop, member, shopper):
    # given an SMS whose link leads to a page of the shop
    message = message_of(shop, text="{name}，领券 {link}", link_url=PAGE)

    # when the member taps the link twice
    first = shopper.get(link_of(message))
    message.refresh_from_db()
    clicked_at = message.clicked_at
    second = shopper.get(link_of(message))

    # then both lead to the page on our site, never cached, and both count; clicked_at is the first click's
    for response in (first, second):
        assert response.status_code == 302
        assert response["Location"] == settings.PUBLIC_URL.rstrip("/") + PAGE
        assert "no-store" in response["Cache-Control"]
    message.refresh_from_db()
    assert clicked_at is not None
    assert (message.clicks, message.clicked_at) == (2, clicked_at)


def test_an_absolute_target_is_followed_as_saved(shop, member, shopper):
    message = message_of(shop, text="{link}", link_url=SALE)

    response = shopper.get(link_of(message))

    assert (response.status_code, response["Location"]) == (302, SALE)
    message.refresh_from_db()
    assert message.clicks == 1


@pytest.mark.parametrize(
    "query", ["?next=https://evil.example", "?url=//evil.example&redirect=https://evil.example", "?next=/\\evil"]
)
def test_the_request_never_chooses_the_target(shop, member, shopper, query):
    message = message_of(shop, text="{link}", link_url=PAGE)

    response = shopper.get(link_of(message) + query)

    assert (response.status_code, response["Location"]) == (302, settings.PUBLIC_URL.rstrip("/") + PAGE)


def _tampered(message) -> list[str]:
    token = link_token(message.shop_id, message.pk)
    head, _sep, signature = token.rpartition(".")
    flipped = head + "." + ("0" if signature[0] != "0" else "1") + signature[1:]
    shop_b36, message_b36, _ = token.split(".")
    return [
        flipped,  # the signature altered
        f"{shop_b36}.{message_b36}z.{signature}",  # another message id under this message's signature
        f"{shop_b36}.{message_b36}",  # no signature
        "not-a-token",
        "..",
        "1.2.3",
    ]


def test_a_tampered_or_garbage_token_is_the_404_and_counts_nothing(shop, member, shopper):
    message = message_of(shop, text="{link}", link_url=PAGE)

    for token in _tampered(message):
        assert_not_found(shopper.get(f"/c/{token}?next=https://evil.example"))
        assert_not_found(shopper.get(f"/c/{token}/unsubscribe/"))
        assert_not_found(shopper.post(f"/c/{token}/unsubscribe/"))

    # a slash in the token is no route of ours at all: Django's own 404, no redirect either
    response = shopper.get("/c/%2F%2Fevil.example")
    assert response.status_code == 404 and "Location" not in response

    message.refresh_from_db()
    assert (message.clicks, message.clicked_at) == (0, None)
    member.refresh_from_db()
    assert member.consent_sms is True
    assert not ConsentChange.objects.filter(shop=shop, source="link").exists()


def test_another_shops_message_under_this_shops_id_leads_nowhere(shop, other_shop, member, shopper):
    # given a message of shop B, and a token signed for shop A with B's message id (as if A's secret leaked, the
    # shop in the token still decides: B's message is not A's)
    members(other_shop, 1)
    theirs = message_of(other_shop, text="{link}", link_url="https://shop-b.example/")
    token = link_token(shop.pk, theirs.pk)

    # when the link is opened, and its opt-out too
    assert_not_found(shopper.get(f"/c/{token}"))
    assert_not_found(shopper.post(f"/c/{token}/unsubscribe/"))

    # then B's message counts nothing, and B's member keeps the consent
    theirs.refresh_from_db()
    assert (theirs.clicks, theirs.clicked_at) == (0, None)
    assert Member.objects.get(pk=theirs.member_id).consent_sms is True
    # and B's own token works, for B
    assert shopper.get(link_of(theirs))["Location"] == "https://shop-b.example/"


def test_a_campaign_without_a_link_and_a_frozen_shop_lead_nowhere(shop, member, shopper):
    without = message_of(shop, text="{name}，好久不见")
    assert_not_found(shopper.get(link_of(without)))

    (other,) = members(shop, 1)
    message = rows(shop, started(shop, holdout_percent=0, text="{link}", link_url=PAGE)).get(member=other)
    shop.is_active = False
    shop.save(update_fields=["is_active"])
    assert_not_found(shopper.get(link_of(message)))
    message.refresh_from_db()
    assert message.clicks == 0


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "//evil.example/",
        " //evil.example/",
        "\\\\evil.example",
        "/\\evil.example",
        "data:text/html,<script>alert(1)</script>",
        "https://shop.example@evil.example/",
        "ftp://evil.example/",
        "https:///no-host",
    ],
)
def test_link_target_check_refuses_what_could_lead_elsewhere(url):
    with pytest.raises(InvalidLink):
        link_target_check(url)


def test_link_target_check_keeps_a_page_and_an_http_url():
    assert link_target_check(" /m/shop-a/me/ ") == "/m/shop-a/me/"
    assert link_target_check(SALE) == SALE


def test_the_opt_out_link_asks_then_withdraws_sms_consent_once(shop, member, shopper):
    # given an SMS to the member
    message = message_of(shop)
    url = f"{link_of(message)}/unsubscribe/"

    # when the member opens the opt-out page, nothing changes yet
    asked = shopper.get(url)
    assert asked.status_code == 200
    assert 'data-testid="unsubscribe"' in text(asked) and "marketing text messages from 甲店" in text(asked)
    assert "no-store" in asked["Cache-Control"]
    member.refresh_from_db()
    assert member.consent_sms is True

    # and confirms, twice
    done = shopper.post(url)
    again = shopper.post(url)

    # then SMS consent is withdrawn once, recorded with the source "link"; the repeat only shows the confirmation
    for response in (done, again):
        assert response.status_code == 200
        assert 'data-testid="unsubscribed"' in text(response)
    member.refresh_from_db()
    assert (member.consent_sms, member.consent_push) == (False, True)
    withdrawn = ConsentChange.objects.filter(shop=shop, member=member, granted=False)
    assert list(withdrawn.values_list("channel", "source")) == [("sms", "link")]

    # and the next SMS campaign suppresses the member as unsubscribed
    following = started(shop, holdout_percent=0, name="下一次")
    row = rows(shop, following).get(member=member)
    assert (row.status, row.reason) == ("suppressed", "unsubscribed")


def test_the_opt_out_of_a_push_message_withdraws_push_consent(shop, member, shopper):
    message = message_of(shop, channel="push", title="会员日", text="全场9折")

    assert shopper.post(f"{link_of(message)}/unsubscribe/").status_code == 200

    member.refresh_from_db()
    assert (member.consent_sms, member.consent_push) == (True, False)
    withdrawn = ConsentChange.objects.filter(shop=shop, member=member, granted=False)
    assert list(withdrawn.values_list("channel", "source")) == [("push", "link")]


def test_an_in_app_message_has_no_opt_out_page(shop, member, shopper):
    message = message_of(shop, channel="in_app", title="会员日", text="全场9折")

    assert_not_found(shopper.post(f"{link_of(message)}/unsubscribe/"))

    assert not ConsentChange.objects.filter(shop=shop, member=member, granted=False).exists()
    member.refresh_from_db()
    assert (member.consent_sms, member.consent_push) == (True, True)


def test_only_a_get_follows_the_link(shop, member, shopper):
    message = message_of(shop, text="{link}", link_url=PAGE)

    for method in ("post", "put", "delete"):
        assert getattr(shopper, method)(link_of(message)).status_code == 405

    message.refresh_from_db()
    assert (message.clicks, message.clicked_at) == (0, None)
