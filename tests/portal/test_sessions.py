"""Logging in and out: by phone and code, per shop, the session key rotated, a verified non-member sent to the
join form with the phone kept, frozen and erased members logged out; CSRF on every form."""

import datetime

import time_machine
from django.test import Client, TestCase
from django.utils import timezone

from members.models import Member
from members.services import member_erase, member_set_frozen
from shops.services import SYSTEM
from shops.sms import LocmemBackend
from tests.recruitment.helpers import make_channel

from .helpers import E164, PHONE, join, join_form, log_in, make_member, send_code, sent_code, text


def test_a_member_logs_in_with_phone_and_code_and_the_session_key_changes(shop, shopper):
    member = make_member(shop, phone=PHONE)
    shopper.get("/m/shop-a/")  # a session exists before logging in
    shopper.session.save()
    before = shopper.session.session_key

    response = log_in(shopper, shop)

    assert response.status_code == 302 and response["Location"] == "/m/shop-a/me/"
    assert shopper.session[f"portal:{shop.pk}"] == member.pk
    assert shopper.session.session_key != before
    assert shopper.get("/m/shop-a/me/").status_code == 200


def test_the_member_centre_asks_for_a_login_and_comes_back_after_it(shop, shopper):
    make_member(shop, phone=PHONE)
    response = shopper.get("/m/shop-a/me/coupons/")
    assert response.status_code == 302 and response["Location"] == "/m/shop-a/login/?next=/m/shop-a/me/coupons/"
    send_code(shopper, shop)
    response = shopper.post("/m/shop-a/login/", {"phone": PHONE, "code": sent_code(), "next": "/m/shop-a/me/coupons/"})
    assert response["Location"] == "/m/shop-a/me/coupons/"


def test_login_goes_only_to_pages_of_the_same_shop(shop, other_shop, shopper):
    make_member(shop, phone=PHONE)
    for wanted in ("https://evil.example/", "//evil.example/m/shop-a/", "/m/shop-b/me/", "/dashboard/"):
        send_code(shopper, shop)
        response = shopper.post("/m/shop-a/login/", {"phone": PHONE, "code": sent_code(), "next": wanted})
        assert response["Location"] == "/m/shop-a/me/", wanted


def test_a_wrong_login_code_is_refused(shop, shopper):
    make_member(shop, phone=PHONE)
    send_code(shopper, shop)
    wrong = "000000" if sent_code() != "000000" else "111111"
    response = shopper.post("/m/shop-a/login/", {"phone": PHONE, "code": wrong})
    assert response.status_code == 400 and "The code is wrong or has expired" in text(response)
    assert f"portal:{shop.pk}" not in shopper.session


def test_a_verified_phone_that_is_not_a_member_joins_without_a_second_code(shop, shopper):
    channel = make_channel(shop, welcome_points=20)

    # when a shopper who is not a member logs in from the channel's page
    send_code(shopper, shop)
    response = shopper.post("/m/shop-a/login/", {"phone": PHONE, "code": sent_code(), "channel": channel.code})

    # then they land on the join form with the phone kept and confirmed
    assert response.status_code == 302 and response["Location"] == f"/j/{channel.code}/"
    page = text(shopper.get(response["Location"]))
    assert 'data-testid="phone-verified"' in page and f'name="phone" value="{E164}"' in page
    assert "not a member yet" in page
    # and join without another code
    response = shopper.post("/m/shop-a/join/", join_form(phone=E164, code="", channel=channel.code))
    assert response.status_code == 302
    assert Member.objects.get(shop=shop, phone=E164).points_balance == 20


def test_the_verified_phone_lasts_ten_minutes(shop, shopper):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        send_code(shopper, shop)
        shopper.post("/m/shop-a/login/", {"phone": PHONE, "code": sent_code()})
        clock.shift(datetime.timedelta(minutes=10, seconds=1))
        response = shopper.post("/m/shop-a/join/", join_form(phone=E164, code=""))
    assert response.status_code == 400 and "Enter the 6-digit code" in text(response)
    assert not Member.objects.filter(shop=shop).exists()


def test_a_verified_phone_does_not_join_another_number(shop, shopper):
    send_code(shopper, shop)
    shopper.post("/m/shop-a/login/", {"phone": PHONE, "code": sent_code()})
    response = shopper.post("/m/shop-a/join/", join_form(phone="13900139000", code=""))
    assert response.status_code == 400
    assert not Member.objects.filter(shop=shop).exists()


def test_sessions_are_per_shop(shop, other_shop, shopper):
    # given a member of shop A logged in, whose phone is also a member of shop B
    join(shopper, shop)
    make_member(other_shop, phone=PHONE)

    # then shop B's member centre asks for a login
    response = shopper.get(f"/m/{other_shop.slug}/me/")
    assert response.status_code == 302 and response["Location"].startswith(f"/m/{other_shop.slug}/login/")
    # and B's landing page does not offer A's member centre
    assert 'data-testid="centre-link"' not in text(shopper.get(f"/m/{other_shop.slug}/"))
    # logging in to B keeps A; logging out of B leaves A logged in
    log_in(shopper, other_shop)
    assert shopper.get(f"/m/{other_shop.slug}/me/").status_code == 200
    shopper.post(f"/m/{other_shop.slug}/logout/")
    assert shopper.get(f"/m/{other_shop.slug}/me/").status_code == 302
    assert shopper.get("/m/shop-a/me/").status_code == 200


def test_logout_ends_the_shops_session(shop, shopper):
    join(shopper, shop)
    assert shopper.get("/m/shop-a/logout/").status_code == 405  # a link cannot log anyone out
    response = shopper.post("/m/shop-a/logout/")
    assert response.status_code == 302 and response["Location"] == "/m/shop-a/"
    assert f"portal:{shop.pk}" not in shopper.session
    assert shopper.get("/m/shop-a/me/").status_code == 302


def test_a_member_frozen_or_erased_after_login_is_logged_out(shop, shopper):
    join(shopper, shop)
    member = Member.objects.get(shop=shop, phone=E164)
    member_set_frozen(shop=shop, member=member, actor=SYSTEM, frozen=True)
    response = shopper.get("/m/shop-a/me/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert f"portal:{shop.pk}" not in shopper.session

    member_set_frozen(shop=shop, member=member, actor=SYSTEM, frozen=False)
    log_in(shopper, shop)
    member_erase(shop=shop, member=member, actor=SYSTEM)
    assert shopper.get("/m/shop-a/me/").status_code == 302
    assert f"portal:{shop.pk}" not in shopper.session


def test_a_frozen_member_cannot_log_in_or_join(shop, shopper):
    member = make_member(shop, phone=PHONE)
    member_set_frozen(shop=shop, member=member, actor=SYSTEM, frozen=True)
    response = log_in(shopper, shop)
    assert response.status_code == 403 and "suspended" in text(response)
    response = join(shopper, shop)
    assert response.status_code == 403
    assert f"portal:{shop.pk}" not in shopper.session


def test_every_form_needs_its_csrf_token(shop):
    # given a member logged in through a client that checks CSRF, as a browser does
    make_member(shop, phone=PHONE)
    strict = Client(enforce_csrf_checks=True)
    strict.get("/m/shop-a/login/")
    token = {"csrfmiddlewaretoken": strict.cookies["csrftoken"].value}
    send_code(strict, shop, **{})  # refused: no token
    assert not sent_code_exists()
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert strict.post("/m/shop-a/code/", {"phone": PHONE, **token}).status_code == 200
    assert strict.post("/m/shop-a/login/", {"phone": PHONE, "code": sent_code(), **token}).status_code == 302
    assert strict.get("/m/shop-a/me/").status_code == 200

    # then every form posted without the token is refused, and nothing changes
    for path in (
        "/m/shop-a/code/",
        "/m/shop-a/join/",
        "/m/shop-a/login/",
        "/m/shop-a/logout/",
        "/m/shop-a/me/coupons/claim/",
        "/m/shop-a/me/mall/exchange/",
        "/m/shop-a/me/profile/",
        "/m/shop-a/me/privacy/export/",
        "/m/shop-a/me/privacy/erase/",
    ):
        response = strict.post(path, {"phone": PHONE, "name": "改名", "confirm": "erase"})
        assert response.status_code == 403, path
    member = Member.objects.get(shop=shop, phone=E164)
    assert (member.status, member.name) == ("active", "")
    assert strict.get("/m/shop-a/me/").status_code == 200  # still logged in


def sent_code_exists() -> bool:
    return bool(LocmemBackend.outbox)


def test_without_script_the_code_button_of_the_login_page_comes_back_to_it(shop, shopper):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = shopper.post("/m/shop-a/code/", {"phone": PHONE, "page": "login", "next": "/m/shop-a/me/mall/"})
    page = text(response)
    assert response.status_code == 200 and 'data-testid="login-form"' in page
    assert "a code is on its way" in page and f'value="{PHONE}"' in page and 'value="/m/shop-a/me/mall/"' in page
    assert len(LocmemBackend.outbox) == 1
