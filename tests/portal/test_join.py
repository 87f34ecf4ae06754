"""Joining from a landing page with a one-time code: the welcome gift, consents, a wrong code, a phone that is a
member already, a referral; sending codes answers the same for any phone and 429 past the limit."""

import re

import pytest
from django.test import TestCase

from coupons.models import Coupon
from members.models import ConsentChange, Member
from points.models import PointsEntry
from recruitment.models import Referral, ReferralStatus
from recruitment.stats import channels_figures
from shops.sms import LocmemBackend
from tests.coupons.helpers import make_member, make_template
from tests.recruitment.helpers import invite_code, make_channel, program

from .helpers import E164, JSON, PHONE, join, join_form, send_code, sent_code, text


def test_joining_through_a_channel_gives_the_welcome_gift_and_opens_the_member_centre(shop, shopper):
    # given a channel with 100 welcome points and a coupon
    template = make_template(shop, name="新人满100减20")
    channel = make_channel(shop, welcome_points=100, welcome_coupon_ids=[template.pk])
    shopper.get(f"/j/{channel.code}/")

    # when the shopper asks for a code and joins with it, ticking no marketing box
    response = join(shopper, shop, channel=channel.code, name="韩梅梅", birthday_month="3", birthday_day="8")

    # then a member exists with the profile, the channel, no marketing consent, and the gift
    assert response.status_code == 302 and response["Location"] == "/m/shop-a/me/"
    member = Member.objects.get(shop=shop, phone=E164)
    assert (member.name, member.birthday_month, member.birthday_day, member.region) == ("韩梅梅", 3, 8, "上海")
    assert member.join_channel == channel.code
    assert (member.consent_sms, member.consent_push, member.consent_email) == (False, False, False)
    assert not ConsentChange.objects.filter(member=member, granted=True).exists()
    assert member.points_balance == 100
    assert list(Coupon.objects.filter(member=member).values_list("template__name", flat=True)) == ["新人满100减20"]
    assert channels_figures(shop=shop, channel_ids=[channel.pk])[channel.pk].joins == 1
    # and the member centre shows them
    page = text(shopper.get(response["Location"]))
    assert 'data-testid="points-balance">100<' in page and "新人满100减20" in page and "普通会员" in page


def test_ticked_marketing_boxes_are_recorded_as_consents_from_the_portal(shop, shopper):
    join(shopper, shop, consent_sms="on", consent_email="on")
    member = Member.objects.get(shop=shop, phone=E164)
    assert (member.consent_sms, member.consent_push, member.consent_email) == (True, False, True)
    changes = set(ConsentChange.objects.filter(member=member).values_list("channel", "granted", "source"))
    # the unticked box is recorded too: the shopper was asked and said no
    assert changes == {("sms", True, "portal"), ("push", False, "portal"), ("email", True, "portal")}


def test_a_wrong_code_is_a_form_error_and_nothing_is_created(shop, shopper):
    channel = make_channel(shop, welcome_points=100)
    assert send_code(shopper, shop).status_code == 200
    wrong = "000000" if sent_code() != "000000" else "111111"

    response = shopper.post("/m/shop-a/join/", join_form(code=wrong, channel=channel.code))

    assert response.status_code == 400
    assert "The code is wrong or has expired" in text(response)
    assert not Member.objects.filter(shop=shop).exists()
    assert not PointsEntry.objects.filter(shop=shop).exists()
    assert channels_figures(shop=shop, channel_ids=[channel.pk])[channel.pk].joins == 0
    assert f"portal:{shop.pk}" not in shopper.session


@pytest.mark.parametrize("digits", ["⁰¹²³⁴⁵⁶⁷⁸⁹", "０１２３４５６７８９"], ids=["superscript", "fullwidth"])
def test_the_code_in_digits_other_than_ascii_is_a_format_error_and_nothing_is_created(shop, shopper, digits):
    assert send_code(shopper, shop).status_code == 200
    spelt = sent_code().translate(str.maketrans("0123456789", digits))

    response = shopper.post("/m/shop-a/join/", join_form(code=spelt))

    assert response.status_code == 400
    assert "The code is 6 digits." in text(response)
    assert not Member.objects.filter(shop=shop).exists()
    assert f"portal:{shop.pk}" not in shopper.session


@pytest.mark.parametrize(
    ("field", "value"), [("name", "李\u202e雷"), ("name", "\x1b[31m李雷"), ("region", "上海\u200f")]
)
def test_joining_with_a_control_or_text_direction_character_is_a_form_error_and_nothing_is_created(
    shop, shopper, field, value
):
    response = join(shopper, shop, **{field: value})

    assert response.status_code == 400
    assert "Remove the invisible character U+" in text(response)
    assert not Member.objects.filter(shop=shop).exists()
    assert f"portal:{shop.pk}" not in shopper.session


def test_without_the_privacy_agreement_or_the_code_nothing_is_created(shop, shopper):
    send_code(shopper, shop)
    response = shopper.post("/m/shop-a/join/", join_form(code=sent_code(), agree=""))
    assert response.status_code == 400 and "Please agree to the privacy notice" in text(response)
    response = shopper.post("/m/shop-a/join/", join_form(code=""))
    assert response.status_code == 400 and "Enter the 6-digit code" in text(response)
    assert not Member.objects.filter(shop=shop).exists()


def test_bad_profile_input_is_named_and_nothing_is_created(shop, shopper):
    send_code(shopper, shop)
    response = shopper.post(
        "/m/shop-a/join/", join_form(code=sent_code(), birthday_month="2", birthday_day="30", gender="robot")
    )
    page = text(response)
    assert response.status_code == 400
    assert "This day does not exist in that month." in page and "Select a valid choice" in page
    assert not Member.objects.filter(shop=shop).exists()


def test_a_phone_that_is_a_member_already_logs_in_and_nothing_changes(shop, shopper):
    # given a member who joined through a channel with a gift
    channel = make_channel(shop, welcome_points=100)
    join(shopper, shop, channel=channel.code, name="老会员")
    member = Member.objects.get(shop=shop, phone=E164)
    shopper.post("/m/shop-a/logout/")
    before = Member.objects.filter(pk=member.pk).values().get()
    consents = ConsentChange.objects.filter(member=member).count()

    # when the same phone joins again, with other details and ticked boxes
    response = join(shopper, shop, channel=channel.code, name="新名字", consent_sms="on")

    # then it is logged in to the same member, and nothing changed
    assert response.status_code == 302 and response["Location"] == "/m/shop-a/me/"
    assert shopper.session[f"portal:{shop.pk}"] == member.pk
    assert Member.objects.filter(shop=shop).count() == 1
    after = Member.objects.filter(pk=member.pk).values().get()
    assert after == before
    assert ConsentChange.objects.filter(member=member).count() == consents
    assert channels_figures(shop=shop, channel_ids=[channel.pk])[channel.pk].joins == 1


def _normalised(html: str) -> str:
    """Without what differs per response by design: the form's CSRF token and the CSP nonce."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"|nonce="[^"]+"', "", html)


def test_sending_a_code_answers_the_same_for_a_member_and_a_new_phone(shop):
    from django.test import Client

    make_member(shop, 1)  # +8613800130001 is a member; +8613800130002 is not
    member_phone, new_phone = "13800130001", "13800130002"

    # The page's script: the same status and the same JSON body.
    a = send_code(Client(REMOTE_ADDR="203.0.113.1"), shop, member_phone)
    b = send_code(Client(REMOTE_ADDR="203.0.113.2"), shop, new_phone)
    assert (a.status_code, a.content) == (b.status_code, b.content) == (a.status_code, a.content)
    assert a.status_code == 200 and a.json()["code"] == "sent"
    # A plain form post: the same page, but for the number typed back into the field and the form's CSRF token.
    pages = []
    for n, phone in enumerate((member_phone, new_phone)):
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = Client(REMOTE_ADDR=f"203.0.113.{10 + n}").post(
                "/m/shop-a/code/", {"phone": phone, "page": "join"}
            )
        pages.append((response.status_code, _normalised(text(response)).replace(phone, "PHONE")))
    assert pages[0] == pages[1]
    assert pages[0][0] == 200
    assert [m.phone for m in LocmemBackend.outbox] == ["+8613800130001", "+8613800130002"] * 2


def test_a_plain_form_post_of_the_code_button_keeps_what_was_typed(shop, shopper):
    channel = make_channel(shop)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = shopper.post(
            "/m/shop-a/code/", join_form(page="join", channel=channel.code, name="小明", consent_push="on")
        )
    page = text(response)
    assert response.status_code == 200
    assert "a code is on its way" in page and 'data-countdown="60"' in page
    assert 'value="小明"' in page and f'name="channel" value="{channel.code}"' in page
    push = next(line for line in page.split("<input") if 'name="consent_push"' in line)
    assert "checked" in push


def test_the_sixth_code_for_a_phone_in_an_hour_is_429_with_a_message(shop):
    from django.test import Client

    for n in range(5):
        assert send_code(Client(REMOTE_ADDR=f"203.0.113.{n}"), shop).status_code == 200
    response = send_code(Client(REMOTE_ADDR="203.0.113.99"), shop)
    assert response.status_code == 429
    assert response.json() == {
        "code": "rate_limited",
        "message": "Too many attempts. Please wait a while and try again.",
    }
    assert len(LocmemBackend.outbox) == 5
    page = Client(REMOTE_ADDR="203.0.113.98").post("/m/shop-a/code/", {"phone": PHONE, "page": "join"})
    assert page.status_code == 429 and "Too many attempts" in text(page)


def test_a_malformed_phone_gets_a_clear_answer_and_no_sms(shop, shopper):
    response = send_code(shopper, shop, "12345")
    assert response.status_code == 400
    assert response.json() == {"code": "invalid_phone", "message": "This is not a valid phone number."}
    assert LocmemBackend.outbox == []


def test_joining_through_a_referral_link_records_the_referral_and_rewards_the_inviter(shop, shopper):
    # given an inviter and a referral program rewarding on joining
    inviter = make_member(shop, 1)
    program(shop, inviter_points=100, invitee_points=50)
    code = invite_code(shop, inviter)

    # when a friend opens the link and joins (the code comes from the session)
    shopper.get(f"/r/{code}/")
    response = join(shopper, shop)

    # then the referral is recorded and rewarded
    assert response.status_code == 302
    invitee = Member.objects.get(shop=shop, phone=E164)
    referral = Referral.objects.get(shop=shop, invitee=invitee)
    assert referral.inviter_id == inviter.pk and referral.status == ReferralStatus.REWARDED
    inviter.refresh_from_db()
    assert (inviter.points_balance, invitee.points_balance) == (100, 50)
    assert f"portal:{shop.pk}:ref" not in shopper.session  # used up


def test_the_code_of_one_shop_does_not_join_another(shop, other_shop, shopper):
    send_code(shopper, shop)
    code = sent_code()
    response = shopper.post(f"/m/{other_shop.slug}/join/", join_form(code=code))
    assert response.status_code == 400
    assert not Member.objects.filter(phone=E164).exists()


def test_a_channel_of_another_shop_in_the_form_is_ignored(shop, other_shop, shopper):
    foreign = make_channel(other_shop, welcome_points=500)
    join(shopper, shop, channel=foreign.code)
    member = Member.objects.get(shop=shop, phone=E164)
    assert member.join_channel == "" and member.points_balance == 0
    assert channels_figures(shop=other_shop, channel_ids=[foreign.pk])[foreign.pk].joins == 0


def test_json_errors_of_the_code_route_are_json(shop, shopper):
    response = shopper.post("/m/shop-a/code/", {"phone": ""}, **JSON)
    assert response.status_code == 400 and response.json()["code"] == "invalid_phone"


def test_malformed_codes_are_no_codes_and_never_an_error(shop, shopper):
    for path in ("/j/AB%00CD/", "/r/AB%00/", "/j/" + "A" * 40 + "/", "/j/A-B/"):
        assert shopper.get(path).status_code == 404, path
    response = join(shopper, shop, ref="A\x00B", channel="C\x00D", name="小明")
    assert response.status_code == 302
    member = Member.objects.get(shop=shop, phone=E164)
    assert (member.join_channel, member.referrer_id, member.name) == ("", None, "小明")
