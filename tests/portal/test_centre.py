"""The member centre: the member card, the wallet and claims, the points mall, the referral page, the profile and
consents, the data download and erasure; few queries per page, and light pages."""

import datetime
import json
import re
from decimal import Decimal

import pytest
from django.contrib.staticfiles import finders
from django.forms.models import model_to_dict
from django.utils import timezone

from coupons.mall import gift_save
from coupons.models import Coupon, Exchange, Gift
from members.models import ConsentChange, Member
from members.timeline import member_data_export
from points.services import points_earn
from shops.models import AuditLogEntry
from shops.services import SYSTEM
from tests.coupons.helpers import make_template
from tests.recruitment.helpers import make_channel
from tiers.models import Tier

from .helpers import E164, join, text

CENTRE_PAGES = ("me/", "me/coupons/", "me/mall/", "me/inbox/", "me/invite/", "me/profile/", "me/privacy/")
MAX_QUERIES = 15


@pytest.fixture
def welcome(shop):
    return make_template(shop, name="新人满100减20")


@pytest.fixture
def channel(shop, welcome):
    return make_channel(shop, headline="扫码入会", welcome_points=100, welcome_coupon_ids=[welcome.pk])


@pytest.fixture
def member(shop, shopper, channel) -> Member:
    """A member who joined through the channel, logged in on `shopper`."""
    assert join(shopper, shop, channel=channel.code, name="韩梅梅").status_code == 302
    return Member.objects.get(shop=shop, phone=E164)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_the_member_card_shows_tier_progress_points_and_coupons(shop, shopper, member):
    soon = timezone.now() + datetime.timedelta(days=10)
    points_earn(shop=shop, member=member, points=30, idempotency_key="expiring", expires_at=soon)

    page = text(shopper.get("/m/shop-a/me/"))

    assert 'data-testid="tier">普通会员<' in page
    assert "Spend ¥500.00 more" in page and "高级会员" in page and 'aria-valuenow="0"' in page
    assert 'data-testid="points-balance">130<' in page
    local = timezone.localtime(soon, timezone.get_fixed_timezone(8 * 60)).strftime("%Y-%m-%d")
    assert f"30 expire on {local}" in page
    assert "新人满100减20" in page and "韩梅梅" in page
    assert "Member since" in page


@pytest.mark.parametrize("path", CENTRE_PAGES)
def test_each_centre_page_renders_in_few_queries(shop, shopper, member, path, django_assert_max_num_queries):
    gift_save(shop=shop, actor=SYSTEM, name="帆布袋", points_price=50, stock=10)
    make_template(shop, name="积分换券", points_price=80)
    make_template(shop, name="领券中心券", shopper_claimable=True)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = shopper.get(f"/m/shop-a/{path}")
    assert response.status_code == 200


def test_the_landing_page_renders_in_few_queries(shop, shopper, channel, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert shopper.get(f"/j/{channel.code}/").status_code == 200


def test_the_wallet_lists_usable_coupons_folds_spent_ones_and_offers_claimable_ones(shop, shopper, member):
    make_template(shop, name="领券中心券", shopper_claimable=True)
    make_template(shop, name="积分换券", points_price=80)  # sold in the mall, not claimable for free
    vip = Tier.objects.get(shop=shop, rank=2)
    make_template(
        shop, name="会员专享", audience="tiers", audience_tiers=[vip.pk], shopper_claimable=True
    )  # not for this member
    page = text(shopper.get("/m/shop-a/me/coupons/"))
    usable, _, rest = page.partition('data-testid="wallet-claimable"')
    assert "新人满100减20" in usable and 'data-testid="coupon-code"' in usable
    assert "领券中心券" in rest
    assert "新人满100减20" not in rest  # the welcome gift's template is not for members to take again
    assert "积分换券" not in page and "会员专享" not in page
    assert 'data-testid="wallet-spent"' not in page


def test_claiming_twice_with_the_same_form_token_issues_one_coupon(shop, shopper, member):
    template = make_template(shop, name="领券中心券", per_member_limit=2, shopper_claimable=True)
    form = {"template": template.pk, "token": "tok-12345678"}

    first = shopper.post("/m/shop-a/me/coupons/claim/", form, follow=True)
    second = shopper.post("/m/shop-a/me/coupons/claim/", form, follow=True)

    assert Coupon.objects.filter(member=member, template=template).count() == 1
    assert messages_of(first) == messages_of(second) == ["Claimed: 领券中心券. It is in your wallet."]
    # a new form (a new token) claims the second one the limit allows, and a third is refused with a message
    shopper.post("/m/shop-a/me/coupons/claim/", {**form, "token": "tok-abcdefgh"}, follow=True)
    third = shopper.post("/m/shop-a/me/coupons/claim/", {**form, "token": "tok-zzzzzzzz"}, follow=True)
    assert messages_of(third) == ["You already have as many of this coupon as allowed."]
    assert Coupon.objects.filter(member=member, template=template).count() == 2


def test_a_claim_out_of_stock_or_of_a_mall_coupon_is_a_message_and_nothing_is_issued(shop, shopper, member):
    gone = make_template(shop, name="抢光了", stock=1, shopper_claimable=True)
    join(type(shopper)(REMOTE_ADDR="203.0.113.50"), shop, phone="13900139000")
    other = Member.objects.get(shop=shop, phone="+8613900139000")
    from coupons.issuance import coupon_issue

    coupon_issue(shop=shop, member=other, template=gone, idempotency_key="k1", source="claim")
    response = shopper.post("/m/shop-a/me/coupons/claim/", {"template": gone.pk, "token": "tok-12345678"}, follow=True)
    assert messages_of(response) == ["Sorry, this has run out."]
    mall = make_template(shop, name="积分换券", points_price=80)
    response = shopper.post("/m/shop-a/me/coupons/claim/", {"template": mall.pk, "token": "tok-12345678"}, follow=True)
    assert messages_of(response) == ["This coupon cannot be claimed."]
    assert not Coupon.objects.filter(member=member, template__in=[gone, mall]).exists()
    staff_only = make_template(shop, name="补偿券")  # not marked for shoppers: given by staff only
    response = shopper.post("/m/shop-a/me/coupons/claim/", {"template": staff_only.pk, "token": "tok-1"}, follow=True)
    assert messages_of(response) == ["This coupon cannot be claimed."]
    assert not Coupon.objects.filter(member=member, template=staff_only).exists()


def test_exchanging_points_for_a_coupon_and_for_a_gift(shop, shopper, member):
    template = make_template(shop, name="积分换券", points_price=80)
    gift = gift_save(shop=shop, actor=SYSTEM, name="帆布袋", points_price=20, stock=5)
    page = text(shopper.get("/m/shop-a/me/mall/"))
    assert "积分换券" in page and "帆布袋" in page and 'data-testid="mall-balance">100<' in page

    form = {"kind": "coupon", "id": template.pk, "token": "tok-12345678"}
    shopper.post("/m/shop-a/me/mall/exchange/", form, follow=True)
    response = shopper.post("/m/shop-a/me/mall/exchange/", form, follow=True)  # a double click: one exchange
    assert messages_of(response) == ["Exchanged for 80 points. The coupon is in your wallet."]
    assert Coupon.objects.filter(member=member, template=template).count() == 1

    gift_form = {
        "kind": "gift",
        "id": gift.pk,
        "token": "tok-abcdefgh",
        "recipient_name": "韩梅梅",
        "recipient_phone": "13800138000",
        "address": "上海市静安区南京西路1号",
    }
    response = shopper.post("/m/shop-a/me/mall/exchange/", gift_form, follow=True)
    assert messages_of(response) == ["Exchanged for 20 points. We will ship it to you."]
    exchange = Exchange.objects.get(shop=shop, gift=gift)
    assert (exchange.member_id, exchange.address, exchange.status) == (member.pk, "上海市静安区南京西路1号", "pending")
    member.refresh_from_db()
    assert member.points_balance == 0
    assert Gift.objects.get(pk=gift.pk).issued == 1


def test_a_gift_without_address_or_without_enough_points_takes_nothing(shop, shopper, member):
    gift = gift_save(shop=shop, actor=SYSTEM, name="帆布袋", points_price=20, stock=5)
    dear = gift_save(shop=shop, actor=SYSTEM, name="行李箱", points_price=5000)
    response = shopper.post(
        "/m/shop-a/me/mall/exchange/",
        {"kind": "gift", "id": gift.pk, "token": "tok-12345678", "address": " "},
        follow=True,
    )
    assert messages_of(response) == ["A gift is shipped: give the shipping address."]
    response = shopper.post(
        "/m/shop-a/me/mall/exchange/",
        {"kind": "gift", "id": dear.pk, "token": "tok-abcdefgh", "address": "上海"},
        follow=True,
    )
    assert messages_of(response) == ["You do not have enough points for this."]
    member.refresh_from_db()
    assert member.points_balance == 100 and not Exchange.objects.filter(shop=shop).exists()
    assert Gift.objects.get(pk=gift.pk).issued == 0


SPELLINGS = {
    "superscript": str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"),
    "fullwidth": str.maketrans("0123456789", "０１２３４５６７８９"),
}


@pytest.mark.parametrize("spelling", [*SPELLINGS, "beyond bigint"])
def test_a_reward_id_not_in_ascii_digits_within_bigint_is_a_message_and_nothing_is_taken(
    shop, shopper, member, spelling
):
    # given: a claimable coupon, a mall coupon and a gift, named by ids spelled in other digits (or too large)
    claimable = make_template(shop, name="领券中心券", shopper_claimable=True)
    sold = make_template(shop, name="积分换券", points_price=10)
    gift = gift_save(shop=shop, actor=SYSTEM, name="帆布袋", points_price=10, stock=5)

    def spelt(pk: int) -> str:
        return str(pk).translate(SPELLINGS[spelling]) if spelling in SPELLINGS else "99999999999999999999"

    address = {"recipient_name": "韩梅梅", "recipient_phone": "13800138000", "address": "上海"}
    # when
    claim = shopper.post(
        "/m/shop-a/me/coupons/claim/", {"template": spelt(claimable.pk), "token": "tok-12345678"}, follow=True
    )
    coupon = shopper.post(
        "/m/shop-a/me/mall/exchange/", {"kind": "coupon", "id": spelt(sold.pk), "token": "tok-abcdefgh"}, follow=True
    )
    shipped = shopper.post(
        "/m/shop-a/me/mall/exchange/",
        {"kind": "gift", "id": spelt(gift.pk), "token": "tok-zzzzzzzz", **address},
        follow=True,
    )

    # then: each is refused with its message, and nothing is issued, exchanged or spent
    assert messages_of(claim) == ["This coupon cannot be claimed."]
    assert messages_of(coupon) == messages_of(shipped) == ["This reward cannot be exchanged."]
    assert not Coupon.objects.filter(member=member, template__in=[claimable, sold]).exists()
    assert not Exchange.objects.filter(shop=shop).exists() and Gift.objects.get(pk=gift.pk).issued == 0
    member.refresh_from_db()
    assert member.points_balance == 100
    # and with the same tokens, the id in ASCII digits goes through: only the spelling was refused
    claimed = shopper.post("/m/shop-a/me/coupons/claim/", {"template": claimable.pk, "token": "tok-12345678"})
    assert claimed.status_code == 302 and Coupon.objects.filter(member=member, template=claimable).count() == 1


def test_another_shops_reward_cannot_be_exchanged_or_claimed(shop, other_shop, shopper, member):
    foreign_gift = gift_save(shop=other_shop, actor=SYSTEM, name="乙店礼物", points_price=1)
    foreign_coupon = make_template(other_shop, name="乙店券")
    response = shopper.post(
        "/m/shop-a/me/mall/exchange/",
        {"kind": "gift", "id": foreign_gift.pk, "token": "tok-12345678", "address": "上海"},
        follow=True,
    )
    assert response.status_code == 200
    assert messages_of(response) == ["This reward is no longer offered."]
    shopper.post("/m/shop-a/me/coupons/claim/", {"template": foreign_coupon.pk, "token": "tok-12345678"})
    assert not Exchange.objects.exists() and not Coupon.objects.filter(template=foreign_coupon).exists()


def test_the_invite_page_shows_the_link_its_qr_code_and_the_counts(shop, shopper, member):
    from tests.recruitment.helpers import program

    program(shop, inviter_points=100, invitee_points=50)
    page = text(shopper.get("/m/shop-a/me/invite/"))
    url = re.search(r'data-testid="invite-url" value="([^"]+)"|value="([^"]+)"[^>]*data-testid="invite-url"', page)
    link = url.group(1) or url.group(2)
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/r/[0-9A-Z]{8}/", link)
    assert "<svg" in page and 'data-testid="invited">0<' in page
    assert "100 points" in page and "Rewarded when your friend joins." in page


def test_profile_and_consent_changes_are_saved_and_recorded(shop, shopper, member):
    form = {
        "name": "韩梅梅2",
        "gender": "female",
        "birthday_month": "5",
        "birthday_day": "20",
        "birth_year": "1990",
        "region": "北京",
        "consent_sms": "on",
    }
    response = shopper.post("/m/shop-a/me/profile/", form, follow=True)
    assert messages_of(response) == ["Saved."]
    member.refresh_from_db()
    assert (member.name, member.gender, member.birthday_month, member.birthday_day, member.birth_year) == (
        "韩梅梅2",
        "female",
        5,
        20,
        1990,
    )
    assert (member.region, member.consent_sms, member.consent_push) == ("北京", True, False)
    granted = ConsentChange.objects.filter(member=member, channel="sms", granted=True, source="portal")
    assert granted.count() == 1
    # unsubscribing: untick
    shopper.post("/m/shop-a/me/profile/", {**form, "consent_sms": ""})
    member.refresh_from_db()
    assert member.consent_sms is False
    latest = ConsentChange.objects.filter(member=member).order_by("-changed_at", "-pk").first()
    assert (latest.channel, latest.granted, latest.source) == ("sms", False, "portal")
    entry = AuditLogEntry.objects.filter(shop=shop, action="member.update").first()
    assert entry.actor_label == f"member #{member.pk} (portal)"


def test_a_bad_profile_is_named_and_nothing_is_saved(shop, shopper, member):
    response = shopper.post("/m/shop-a/me/profile/", {"name": "x", "gender": "unknown", "birthday_month": "13"})
    assert response.status_code == 400 and "Select a valid choice" in text(response)
    member.refresh_from_db()
    assert member.name == "韩梅梅"


@pytest.mark.parametrize(
    ("field", "value"), [("name", "韩\u202e梅梅"), ("name", "韩梅梅\x07"), ("region", "北京\u2066")]
)
def test_a_profile_with_a_control_or_text_direction_character_is_refused_and_nothing_is_saved(
    shop, shopper, member, field, value
):
    before = model_to_dict(Member.objects.get(pk=member.pk), exclude=["updated_at"])
    form = {"name": "韩梅梅", "gender": "female", "region": "北京", field: value}

    response = shopper.post("/m/shop-a/me/profile/", form)

    assert response.status_code == 400
    assert "Remove the invisible character U+" in text(response)
    assert model_to_dict(Member.objects.get(pk=member.pk), exclude=["updated_at"]) == before


def test_a_shipping_address_keeps_its_lines_and_refuses_hidden_characters(shop, shopper, member):
    gift = gift_save(shop=shop, actor=SYSTEM, name="帆布袋", points_price=10, stock=5)
    form = {"kind": "gift", "id": gift.pk, "recipient_name": "韩梅梅", "recipient_phone": "13800138000"}

    refused = shopper.post(
        "/m/shop-a/me/mall/exchange/", {**form, "token": "tok-12345678", "address": "上海市\n\u202e静安区"}, follow=True
    )
    assert len(messages_of(refused)) == 1 and "U+202E" in messages_of(refused)[0]
    assert not Exchange.objects.filter(shop=shop).exists() and Gift.objects.get(pk=gift.pk).issued == 0
    member.refresh_from_db()
    assert member.points_balance == 100

    shopper.post("/m/shop-a/me/mall/exchange/", {**form, "token": "tok-abcdefgh", "address": "上海市\r\n静安区"})
    assert Exchange.objects.get(shop=shop, gift=gift).address == "上海市\r\n静安区"


def test_the_data_download_is_the_dashboards_export_and_is_audited(shop, shopper, member):
    response = shopper.post("/m/shop-a/me/privacy/export/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    expected = json.loads(json.dumps(member_data_export(shop=shop, member=member), default=str))
    assert data["member"]["phone"] == E164 and data["member"]["name"] == "韩梅梅"
    assert data.keys() == expected.keys()
    assert AuditLogEntry.objects.filter(shop=shop, action="member.data_export", object_id=str(member.pk)).exists()


def test_erasure_needs_the_confirmation_then_erases_logs_out_and_says_goodbye(shop, shopper, member):
    response = shopper.post("/m/shop-a/me/privacy/erase/", follow=True)
    assert messages_of(response) == ["Tick the box to confirm that your data should be erased."]
    member.refresh_from_db()
    assert member.status == "active"

    response = shopper.post("/m/shop-a/me/privacy/erase/", {"confirm": "erase"})

    assert response.status_code == 200 and 'data-testid="goodbye"' in text(response)
    member.refresh_from_db()
    assert (member.status, member.phone, member.name) == ("erased", "", "")
    entry = AuditLogEntry.objects.get(shop=shop, action="member.erase")
    assert entry.actor_label == f"member #{member.pk} (own request)" and entry.actor_user is None
    assert shopper.get("/m/shop-a/me/").status_code == 302


def _page_weight(response) -> int:
    """The HTML plus the CSS and JS it links, found through the staticfiles finders."""
    html = response.content
    total = len(html)
    for path in re.findall(rb'(?:href|src)="/static/([^"]+\.(?:css|js))"', html):
        found = finders.find(path.decode())
        assert found, path
        with open(found, "rb") as f:
            total += len(f.read())
    return total


def test_pages_are_light(shop, shopper, channel, member):
    for n in range(5):
        make_template(shop, name=f"领券{n}", value=Decimal(5 + n))
    pages = [f"/j/{channel.code}/", "/m/shop-a/"] + [f"/m/shop-a/{p}" for p in CENTRE_PAGES]
    for path in pages:
        response = shopper.get(path)
        assert response.status_code == 200
        weight = _page_weight(response)
        assert weight < 150 * 1024, (path, weight)
        assert b"portal.css" in response.content and b"@font-face" not in response.content


def test_bad_input_in_the_centre_gets_a_message_never_an_error(shop, shopper, member):
    gift = gift_save(shop=shop, actor=SYSTEM, name="帆布袋", points_price=20, stock=5)
    huge = "9" * 30
    cases = [
        ("/m/shop-a/me/mall/exchange/", {"kind": "gift", "id": huge, "token": "tok-12345678", "address": "上海"}),
        ("/m/shop-a/me/mall/exchange/", {"kind": "coupon", "id": huge, "token": "tok-12345678"}),
        (
            "/m/shop-a/me/mall/exchange/",
            {"kind": "gift", "id": gift.pk, "token": "tok-12345678", "address": "上\x00海"},
        ),
        (
            "/m/shop-a/me/mall/exchange/",
            {"kind": "gift", "id": gift.pk, "token": "tok-12345678", "address": "长" * 201},
        ),
        ("/m/shop-a/me/mall/exchange/", {"kind": "gift", "id": gift.pk, "token": "短", "address": "上海"}),
        ("/m/shop-a/me/coupons/claim/", {"template": huge, "token": "tok-12345678"}),
        ("/m/shop-a/me/coupons/claim/", {"template": "x", "token": "tok-12345678"}),
    ]
    for path, data in cases:
        response = shopper.post(path, data, follow=True)
        assert response.status_code == 200, data
        assert len(messages_of(response)) == 1, data
    member.refresh_from_db()
    assert member.points_balance == 100 and not Exchange.objects.exists()
    assert Gift.objects.get(pk=gift.pk).issued == 0
