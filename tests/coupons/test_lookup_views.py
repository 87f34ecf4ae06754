"""The clerk's coupon lookup: a code as typed, the coupon with its holder's phone masked and its redemptions, an
amount checked, the coupon used on an order (once), and codes no member holds yet."""

from decimal import Decimal

import pytest
from django.urls import reverse

from coupons.codes import code_display
from coupons.issuance import coupon_issue
from coupons.models import Coupon, CouponStatus, Redemption, Source
from coupons.redemption import coupon_redeem
from coupons.rules import Cart
from coupons.services import codes_import
from shops.roles import ROLE_PERMISSIONS, Perm, Role
from shops.services import SYSTEM
from tests.factories import add_staff

from .helpers import make_member, make_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(client, shop):
    client.force_login(add_staff(shop, Role.CLERK))
    return client


@pytest.fixture
def coupon(shop):
    template = make_template(shop, name="满100减20", value=Decimal("20"), min_spend=Decimal("100"))
    member = make_member(shop, 1, name="王小明")
    return coupon_issue(shop=shop, member=member, template=template, idempotency_key="c", source=Source.CLAIM).coupon


def lookup_url(shop, code=None):
    base = reverse("dashboard:coupon_lookup", args=[shop.slug])
    return base if code is None else f"{base}?code={code}"


def redeem(client, shop, code, action="redeem", **fields):
    data = {"code": code, "order_external_id": "POS-1", "order_amount": "150.00", "action": action, **fields}
    return client.post(lookup_url(shop), data)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def form_errors(response) -> list[str]:
    form = response.context["form"]
    return [str(e) for errors in form.errors.values() for e in errors]


@pytest.mark.parametrize("role", Role.values)
def test_the_lookup_is_for_roles_that_redeem(client, shop, coupon, role):
    user = shop.staffmembership_set.get(role=Role.OWNER).user if role == Role.OWNER else add_staff(shop, role)
    client.force_login(user)
    allowed = Perm.COUPONS_REDEEM in ROLE_PERMISSIONS[role]

    assert client.get(lookup_url(shop, coupon.code)).status_code == (200 if allowed else 403)
    assert redeem(client, shop, coupon.code).status_code == (302 if allowed else 403)
    assert Redemption.objects.count() == (1 if allowed else 0)


def test_a_code_is_found_in_any_case_with_spaces_and_hyphens_and_the_phone_is_masked(clerk, shop, coupon):
    typed = code_display(coupon.code).lower().replace("-", " - ")

    response = clerk.get(lookup_url(shop), {"code": typed})

    html = response.content.decode()
    assert response.status_code == 200 and response.context["coupon"].pk == coupon.pk
    assert code_display(coupon.code) in html
    assert "¥20 off orders over ¥100" in html
    assert "王小明" in html and "138****0001" in html
    assert "13800130001" not in html and "+8613800130001" not in html
    assert response.context["state"] == CouponStatus.AVAILABLE
    assert "Not used yet." in html


def test_an_unknown_code_says_so_on_the_page(clerk, shop):
    response = clerk.get(lookup_url(shop, "NOPE-0000"))

    assert response.status_code == 200 and response.context["coupon"] is None
    assert "No coupon has this code." in response.content.decode()


def test_another_shops_code_is_unknown_and_cannot_be_redeemed(clerk, shop, other_shop):
    template = make_template(other_shop)
    foreign = coupon_issue(
        shop=other_shop, member=make_member(other_shop, 1), template=template, idempotency_key="f", source=Source.CLAIM
    ).coupon

    looked_up = clerk.get(lookup_url(shop, foreign.code))
    posted = redeem(clerk, shop, foreign.code)

    assert looked_up.context["coupon"] is None
    assert posted.status_code == 302 and messages_of(posted) == [
        "No coupon has this code. Check it with the shopper and try again."
    ]
    foreign.refresh_from_db()
    assert foreign.status == CouponStatus.AVAILABLE and Redemption.objects.count() == 0


def test_checking_an_amount_gives_the_discount_or_the_reason_and_changes_nothing(clerk, shop, coupon):
    enough = redeem(clerk, shop, coupon.code, action="validate", order_amount="150")
    short = redeem(clerk, shop, coupon.code, action="validate", order_amount="99.99")

    assert enough.status_code == 200 and enough.context["validation"].discount == Decimal("20.00")
    assert "The coupon applies: ¥20 off." in enough.content.decode()
    assert short.context["validation"].reason == "below_threshold"
    assert "The order does not reach the coupon&#x27;s minimum spend." in short.content.decode()
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.AVAILABLE and Redemption.objects.count() == 0


def test_redeeming_uses_the_coupon_once_and_says_so(clerk, shop, coupon):
    response = redeem(clerk, shop, coupon.code)

    redemption = Redemption.objects.get()
    assert response.status_code == 302 and response.url == lookup_url(shop, code_display(coupon.code))
    assert messages_of(response) == ["Coupon used on order POS-1: ¥20 off."]
    assert (redemption.order_external_id, redemption.order_amount, redemption.discount) == (
        "POS-1",
        Decimal("150.00"),
        Decimal("20.00"),
    )
    assert redemption.member_id == coupon.member_id and redemption.actor.endswith("@example.com")
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.REDEEMED
    page = clerk.get(response.url)
    assert page.context["state"] == CouponStatus.REDEEMED and "POS-1" in page.content.decode()


def test_a_resubmitted_redemption_changes_nothing_and_another_order_is_told_it_was_used(clerk, shop, coupon):
    redeem(clerk, shop, coupon.code)

    again = redeem(clerk, shop, coupon.code)
    other = redeem(clerk, shop, coupon.code, order_external_id="POS-2")

    assert messages_of(again)[-1] == "This coupon was already used on order POS-1; nothing changed."
    assert other.status_code == 200
    assert form_errors(other) == ["This coupon has already been used."]
    assert list(Redemption.objects.values_list("order_external_id", flat=True)) == ["POS-1"]


def test_a_refused_redemption_shows_the_reason_and_changes_nothing(clerk, shop, coupon):
    response = redeem(clerk, shop, coupon.code, order_amount="80")

    assert response.status_code == 200
    assert form_errors(response) == ["The order does not reach the coupon's minimum spend."]
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.AVAILABLE and Redemption.objects.count() == 0


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"order_amount": ""}, "order_amount", "This field is required."),
        ({"order_amount": "-1"}, "order_amount", "greater than or equal to 0"),
        ({"order_external_id": ""}, "order_external_id", "Enter the order number to use the coupon on."),
        ({"items": "A100, 母婴, two, 10"}, "items", "Line 1: write SKU, category, quantity, unit price"),
    ],
)
def test_a_bad_order_form_is_refused_and_changes_nothing(clerk, shop, coupon, fields, field, message):
    response = redeem(clerk, shop, coupon.code, **fields)

    assert response.status_code == 200
    assert any(message in e for e in response.context["form"].errors[field])
    assert Redemption.objects.count() == 0


def test_items_are_read_for_a_coupon_on_some_categories(clerk, shop):
    template = make_template(shop, name="母婴满100减20", scope="categories", scope_values=["母婴"])
    coupon = coupon_issue(
        shop=shop, member=make_member(shop, 2), template=template, idempotency_key="m", source=Source.CLAIM
    ).coupon

    without = redeem(clerk, shop, coupon.code, action="validate")
    with_items = redeem(clerk, shop, coupon.code, action="validate", items="A1, 母婴, 2, 60\nB1，食品，1，30")

    assert without.context["validation"].reason == "items_required"
    assert with_items.context["validation"].discount == Decimal("20.00")


def test_a_code_nobody_holds_needs_the_shoppers_phone_which_stays_out_of_urls(clerk, shop):
    template = make_template(shop, name="门店券", min_spend=None, kind="no_threshold", value=Decimal("10"))
    codes_import(shop=shop, actor=SYSTEM, template=template, codes=["STORE0001"])
    shopper = make_member(shop, 7, name="李四")

    page = clerk.get(lookup_url(shop, "store-0001"))
    no_phone = redeem(clerk, shop, "STORE0001")
    unknown = redeem(clerk, shop, "STORE0001", phone="13900000000")
    done = redeem(clerk, shop, "STORE0001", phone="138 0013 0007")

    assert "Not held by a member yet" in page.content.decode() and "phone" in page.context["form"].fields
    assert form_errors(no_phone) == ["This code is not held by a member yet: enter the shopper's phone."]
    assert form_errors(unknown) == ["No member has this phone number."]
    assert done.status_code == 302 and "0007" not in done.url and "1380013" not in done.url
    coupon = Coupon.objects.get(code="STORE0001")
    assert (coupon.member_id, coupon.status) == (shopper.pk, CouponStatus.REDEEMED)
    assert Redemption.objects.get().discount == Decimal("10.00")


def test_an_expired_coupon_reads_expired_before_the_nightly_run(clerk, shop, coupon):
    Coupon.objects.filter(pk=coupon.pk).update(valid_until=coupon.issued_at)

    response = clerk.get(lookup_url(shop, coupon.code))
    refused = redeem(clerk, shop, coupon.code)

    assert response.context["state"] == CouponStatus.EXPIRED
    assert form_errors(refused) == ["This coupon has expired."]


def test_redemptions_list_shows_a_reversed_one(clerk, shop, coupon):
    from coupons.redemption import coupons_reverse_for_order

    coupon_redeem(
        shop=shop, code=coupon.code, member=coupon.member, order_external_id="OLD-1", cart=Cart(amount=Decimal("200"))
    )
    coupons_reverse_for_order(shop=shop, order_external_id="OLD-1")

    html = clerk.get(lookup_url(shop, coupon.code)).content.decode()

    assert "OLD-1" in html and "Coupon given back" in html
