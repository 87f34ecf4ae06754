"""The landing pages: a channel's (/j/<code>/), a referral link's (/r/<code>/) and the shop's (/m/<slug>/); visits
and unique visitors counted; closed channels and unknown codes."""

import datetime
import re
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from recruitment.channels import ChannelInput, channel_set_active, channel_update
from recruitment.stats import channels_figures
from shops import csp
from shops.services import SYSTEM, shop_set_active, shop_update
from tests.coupons.helpers import make_member, make_template
from tests.recruitment.helpers import invite_code, make_channel

from .helpers import join, text


def test_the_landing_page_shows_the_shop_the_headline_the_gift_the_tiers_and_the_form(shop, shopper):
    # given a channel with a headline, benefits and a welcome gift of points and a coupon
    template = make_template(shop, name="新人满100减20")
    channel = make_channel(
        shop,
        headline="扫码入会领好礼",
        benefits="积分当钱花\n生日礼",
        welcome_points=100,
        welcome_coupon_ids=[template.pk],
    )

    # when a shopper opens its address
    response = shopper.get(f"/j/{channel.code}/")

    # then the page has the shop's name and colour, the channel's words, the gift, the tiers and the join form
    assert response.status_code == 200
    page = text(response)
    assert shop.name in page and f"--brand:{shop.colour}" in page
    assert "扫码入会领好礼" in page and "积分当钱花" in page and "生日礼" in page
    assert 'data-testid="welcome-points">100<' in page
    assert "新人满100减20" in page and "¥20" in page
    assert "普通会员" in page and "VIP会员" in page  # the default ladder
    assert 'action="/m/shop-a/join/"' in page and f'name="channel" value="{channel.code}"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert '<meta name="viewport"' in page


def test_marketing_boxes_are_unticked_and_the_privacy_notice_is_there(shop, shopper):
    channel = make_channel(shop)
    page = text(shopper.get(f"/j/{channel.code}/"))
    for name in ("consent_sms", "consent_push", "consent_email"):
        box = next(line for line in page.split("<input") if f'name="{name}"' in line)
        assert "checked" not in box
    agree = next(line for line in page.split("<input") if 'name="agree"' in line)
    assert "checked" not in agree
    assert "Privacy notice" in page and "erased" in page


def test_visits_are_counted_and_a_returning_visitor_is_one_unique_visitor(shop):
    channel = make_channel(shop)
    first, second = Client(), Client()

    response = first.get(f"/j/{channel.code}/")
    cookie = response.cookies["hy_visitor"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and int(cookie["max-age"]) > 365 * 24 * 3600
    assert "hy_visitor" not in first.get(f"/j/{channel.code}/").cookies  # kept, not replaced
    second.get(f"/j/{channel.code}/")

    figures = channels_figures(shop=shop, channel_ids=[channel.pk])[channel.pk]
    assert (figures.visits, figures.visitors, figures.joins) == (3, 2, 0)


def test_a_paused_expired_or_future_channel_shows_the_closed_page_with_the_way_home(shop, shopper):
    now = timezone.now()
    paused = channel_set_active(shop=shop, actor=SYSTEM, channel=make_channel(shop, name="paused"), active=False)
    over = make_channel(shop, name="over", valid_until=now - datetime.timedelta(days=1))
    future = make_channel(shop, name="future", valid_from=now + datetime.timedelta(days=1))
    for channel in (paused, over, future):
        response = shopper.get(f"/j/{channel.code}/")
        assert response.status_code == 200
        page = text(response)
        assert 'data-testid="channel-closed"' in page and 'href="/m/shop-a/"' in page
        assert "join-form" not in page
    # the visits still count: a printed code is being scanned
    assert channels_figures(shop=shop, channel_ids=[paused.pk])[paused.pk].visits == 1


def test_unknown_codes_and_shops_are_the_portals_404(shop, shopper):
    for path in ("/j/NOSUCHCO/", "/r/NOSUCHCO/", "/m/no-such-shop/", "/m/no-such-shop/me/"):
        response = shopper.get(path)
        assert response.status_code == 404, path
        assert 'data-testid="portal-not-found"' in text(response)


def test_a_frozen_shop_has_no_pages(shop, shopper):
    channel = make_channel(shop)
    shop_set_active(shop=shop, actor=SYSTEM, active=False)
    assert shopper.get(f"/j/{channel.code}/").status_code == 404
    assert shopper.get("/m/shop-a/").status_code == 404


def test_the_join_on_purchase_channel_has_no_page(shop, shopper):
    from recruitment.channels import purchase_channel

    assert shopper.get(f"/j/{purchase_channel(shop=shop).code}/").status_code == 404


def test_the_shop_home_is_the_landing_without_a_channel(shop, shopper):
    response = shopper.get("/m/shop-a/")
    assert response.status_code == 200
    page = text(response)
    assert "Join 甲店" in page and 'name="channel" value=""' in page
    assert 'data-testid="welcome-gift"' not in page


def test_a_logged_in_member_sees_the_way_to_the_member_centre(shop, shopper):
    channel = make_channel(shop)
    assert 'data-testid="centre-link"' not in text(shopper.get(f"/j/{channel.code}/"))
    join(shopper, shop)
    assert 'data-testid="centre-link"' in text(shopper.get(f"/j/{channel.code}/"))


def test_a_referral_link_remembers_the_code_and_shows_the_invitees_reward(shop, shopper):
    from tests.recruitment.helpers import program

    inviter = make_member(shop, 1)
    program(shop, invitee_points=50, invitee_coupon=make_template(shop, name="好友券", value=Decimal(10)))
    code = invite_code(shop, inviter)

    response = shopper.get(f"/r/{code.lower()}/")
    assert response.status_code == 200
    page = text(response)
    assert "A friend invited you" in page and f'name="ref" value="{code}"' in page
    assert 'data-testid="welcome-points">50<' in page and "好友券" in page
    assert shopper.session[f"portal:{shop.pk}:ref"] == code
    # the shop's home in the same session still carries the code
    assert f'name="ref" value="{code}"' in text(shopper.get("/m/shop-a/"))


def test_the_page_speaks_the_shops_language_unless_the_shopper_chose_one(shop, shopper):
    shop.locale = "zh-hans"
    shop.save(update_fields=["locale"])
    page = text(shopper.get("/m/shop-a/", HTTP_ACCEPT_LANGUAGE="en"))
    assert '<html lang="zh-hans">' in page
    # the switch: Django's set_language, then the cookie wins over the shop's language
    response = shopper.post("/i18n/setlang/", {"language": "en", "next": "/m/shop-a/"})
    assert response.status_code == 302 and response["Location"] == "/m/shop-a/"
    assert '<html lang="en">' in text(shopper.get("/m/shop-a/"))


def test_the_landing_page_is_kept_rendered_but_every_visitor_gets_a_working_csrf_token(
    shop, django_assert_max_num_queries
):
    # given a channel whose page one visitor has seen (so it is kept rendered)
    channel = make_channel(shop, headline="第一版")
    first = Client()
    first_page = text(first.get(f"/j/{channel.code}/"))

    # when a second visitor with a strict CSRF check opens it: one query (the channel), no rendering
    strict = Client(enforce_csrf_checks=True)
    with django_assert_max_num_queries(1):
        response = strict.get(f"/j/{channel.code}/")
    page = text(response)

    # then the page is the same but for the token, which is the visitor's own and works, and the CSP nonce
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert "csrf-token-placeholder" not in page + first_page and csp.NONCE_PLACEHOLDER not in page + first_page
    own = r'value="[^"]{40,}"|nonce="[^"]+"'
    assert re.sub(own, "", page) == re.sub(own, "", first_page)
    posted = strict.post(
        "/m/shop-a/code/", {"phone": "12345", "csrfmiddlewaretoken": token}, HTTP_ACCEPT="application/json"
    )
    assert posted.status_code == 400 and posted.json()["code"] == "invalid_phone"  # past the CSRF check


def test_an_edit_of_the_channel_or_the_shop_shows_at_once(shop, shopper):
    channel = make_channel(shop, headline="第一版")
    assert "第一版" in text(shopper.get(f"/j/{channel.code}/"))
    channel_update(
        shop=shop,
        actor=SYSTEM,
        channel=channel,
        data=ChannelInput(name=channel.name, headline="第二版", welcome_points=5),
    )
    page = text(shopper.get(f"/j/{channel.code}/"))
    assert "第二版" in page and 'data-testid="welcome-points">5<' in page
    shop_update(shop=shop, actor=SYSTEM, colour="#123456")
    assert "--brand:#123456" in text(shopper.get(f"/j/{channel.code}/"))
    channel_set_active(shop=shop, actor=SYSTEM, channel=channel, active=False)
    assert 'data-testid="channel-closed"' in text(shopper.get(f"/j/{channel.code}/"))
