"""The points mall dashboard: the catalogue and its gift editor (rules), the fulfilment queue and its actions (grant),
who sees what, another shop's objects, and the operations admin of coupons."""

from decimal import Decimal

import pytest

from coupons.mall import gift_save, mall_cancel, mall_exchange, mall_ship
from coupons.models import Coupon, CouponTemplate, Exchange, Gift, Redemption
from coupons.redemption import coupon_redeem
from coupons.rules import Cart
from members.models import Member
from points.selectors import points_reconcile
from points.services import points_earn
from shops.models import AuditLogEntry
from shops.roles import ROLE_PERMISSIONS, Perm, Role
from shops.services import SYSTEM
from tests.factories import UserFactory
from tests.pages import messages_of, staff_client, text, url

from .helpers import make_member, make_template

pytestmark = pytest.mark.django_db
ADDRESS = {"recipient_name": "李四", "recipient_phone": "13912345678", "address": "上海市徐汇区漕溪北路2号"}


def pending_exchange(shop, n=0, gift=None):
    gift = gift or gift_save(shop=shop, actor=SYSTEM, name="保温杯", points_price=300, stock=5)
    member = make_member(shop, n, name=f"王{n}")
    points_earn(shop=shop, member=member, points=500, idempotency_key=f"seed{n}")
    return mall_exchange(shop=shop, member=member, gift=gift, idempotency_key=f"g{n}", **ADDRESS)[0]


def exchange_state(exchange):
    return (
        list(Exchange.objects.filter(pk=exchange.pk).values()),
        Member.objects.get(pk=exchange.member_id).points_balance,
        Gift.objects.get(pk=exchange.gift_id).issued,
    )


# --- Who sees what -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "catalogue", "queue"),
    [
        (Role.OWNER, 200, 200),
        (Role.ADMIN, 200, 200),
        (Role.MARKETER, 200, 200),
        (Role.ANALYST, 403, 403),
        (Role.CLERK, 403, 403),
    ],
)
def test_the_mall_pages_per_role(client, shop, role, catalogue, queue):
    client = staff_client(client, shop, role)
    assert client.get(url("coupon_mall", shop)).status_code == catalogue
    assert client.get(url("coupon_mall_gift_create", shop)).status_code == catalogue
    assert client.get(url("coupon_mall_queue", shop)).status_code == queue


def test_a_role_without_the_right_cannot_act(client, shop):
    exchange = pending_exchange(shop)
    before = exchange_state(exchange)
    client = staff_client(client, shop, Role.ANALYST)

    assert client.post(url("coupon_mall_ship", shop, exchange.pk), {"tracking_number": "SF1"}).status_code == 403
    assert client.post(url("coupon_mall_cancel", shop, exchange.pk)).status_code == 403
    assert client.post(url("coupon_mall_gift_active", shop, exchange.gift_id), {"active": "0"}).status_code == 403
    assert client.post(url("coupon_mall_gift_create", shop), {"name": "x", "points_price": "1"}).status_code == 403

    assert exchange_state(exchange) == before
    assert Gift.objects.count() == 1


# --- The catalogue ---------------------------------------------------------------------------------------------------


def test_the_catalogue_lists_priced_coupons_and_gifts_with_their_figures(owner_client, shop):
    make_template(shop, name="积分换券", points_price=200, stock=50)
    make_template(shop, name="不卖的券")
    gift_save(shop=shop, actor=SYSTEM, name="雨伞", points_price=800, stock=None)
    pending_exchange(shop)

    page = text(owner_client.get(url("coupon_mall", shop)))

    assert "积分换券 200 50 0 1" in page
    assert "不卖的券" not in page
    assert "保温杯 300 5 1 on offer" in page
    assert "雨伞 800 unlimited 0 on offer" in page


def test_creating_a_gift_saves_it_and_says_so(owner_client, shop):
    response = owner_client.post(
        url("coupon_mall_gift_create", shop),
        {"name": "帆布袋", "description": "限量", "points_price": "150", "stock": "20", "active": "on"},
        follow=True,
    )

    assert response.redirect_chain == [(url("coupon_mall", shop), 302)]
    assert messages_of(response) == ["Gift saved."]
    gift = Gift.objects.get(shop=shop)
    assert (gift.name, gift.description, gift.points_price, gift.stock, gift.issued, gift.active) == (
        "帆布袋",
        "限量",
        150,
        20,
        0,
        True,
    )
    assert AuditLogEntry.objects.get(shop=shop, action="mall_gift.create").actor_label == "owner@shop-a.example"


def test_bad_gift_input_is_shown_at_the_field_and_nothing_is_saved(owner_client, shop):
    response = owner_client.post(url("coupon_mall_gift_create", shop), {"name": "帆布袋", "points_price": "0"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"points_price": ["Ensure this value is greater than or equal to 1."]}
    assert Gift.objects.count() == 0


def test_editing_a_gift_cannot_set_the_stock_below_what_was_exchanged(owner_client, shop):
    exchange = pending_exchange(shop)
    pending_exchange(shop, 1, gift=exchange.gift)
    edit = url("coupon_mall_gift_edit", shop, exchange.gift_id)
    assert owner_client.get(edit).context["form"].initial["stock"] == 5

    refused = owner_client.post(edit, {"name": "保温杯", "points_price": "300", "stock": "1", "active": "on"})
    assert refused.context["form"].errors == {"stock": ["The stock cannot be less than the 2 already exchanged."]}
    assert Gift.objects.get(pk=exchange.gift_id).stock == 5

    saved = owner_client.post(edit, {"name": "保温杯", "points_price": "280", "stock": "2", "active": "on"})
    assert saved.status_code == 302
    assert Gift.objects.filter(pk=exchange.gift_id).values_list("points_price", "stock").get() == (280, 2)


def test_a_gift_is_taken_off_the_mall_and_offered_again(owner_client, shop):
    gift = gift_save(shop=shop, actor=SYSTEM, name="雨伞", points_price=800)
    off = owner_client.post(url("coupon_mall_gift_active", shop, gift.pk), {"active": "0"}, follow=True)
    assert messages_of(off) == ["Gift taken off the mall."]
    assert Gift.objects.get(pk=gift.pk).active is False
    on = owner_client.post(url("coupon_mall_gift_active", shop, gift.pk), {"active": "1"}, follow=True)
    assert messages_of(on) == ["Gift offered in the points mall."]
    assert Gift.objects.get(pk=gift.pk).active is True


# --- The fulfilment queue --------------------------------------------------------------------------------------------


def test_the_queue_shows_pending_gifts_first_with_the_members_phone_masked(owner_client, shop):
    exchange = pending_exchange(shop)
    shipped = pending_exchange(shop, 1)
    mall_ship(shop=shop, exchange=shipped, tracking_number="SF777")

    page = text(owner_client.get(url("coupon_mall_queue", shop)))
    assert "保温杯 300 王0 138****0000 李四 13912345678 上海市徐汇区漕溪北路2号 To ship" in page
    assert "SF777" not in page
    assert "All (2) To ship (1) Shipped (1) Delivered (0) Cancelled (0)" in page

    shipped_page = text(owner_client.get(url("coupon_mall_queue", shop), {"status": "shipped"}))
    assert "王1 138****0001" in shipped_page and "SF777" in shipped_page and "王0" not in shipped_page
    all_page = owner_client.get(url("coupon_mall_queue", shop), {"status": ""})
    assert [e.pk for e in all_page.context["exchanges"]] == [exchange.pk, shipped.pk]


def test_the_recipients_phone_is_masked_for_a_role_without_the_phone_right(client, shop, monkeypatch):
    pending_exchange(shop)
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.CLERK, frozenset({Perm.COUPONS_GRANT}))
    client = staff_client(client, shop, Role.CLERK)

    page = text(client.get(url("coupon_mall_queue", shop)))

    assert "李四 139****5678" in page
    assert "13912345678" not in page


def test_ship_deliver_and_cancel_from_the_queue(owner_client, shop):
    exchange = pending_exchange(shop)
    other = pending_exchange(shop, 1)

    shipped = owner_client.post(
        url("coupon_mall_ship", shop, exchange.pk), {"tracking_number": "SF123", "back": "pending"}, follow=True
    )
    assert shipped.redirect_chain == [(url("coupon_mall_queue", shop) + "?status=pending", 302)]
    assert messages_of(shipped) == ["Marked as shipped."]
    delivered = owner_client.post(url("coupon_mall_deliver", shop, exchange.pk), {"back": "shipped"}, follow=True)
    assert delivered.redirect_chain == [(url("coupon_mall_queue", shop) + "?status=shipped", 302)]
    assert messages_of(delivered) == ["Marked as delivered."]
    cancelled = owner_client.post(url("coupon_mall_cancel", shop, other.pk), {"reason": "缺货"}, follow=True)
    assert messages_of(cancelled) == ["Exchange cancelled: the points and the stock were given back."]

    assert Exchange.objects.filter(pk=exchange.pk).values_list("status", "tracking_number").get() == (
        "delivered",
        "SF123",
    )
    assert Exchange.objects.get(pk=other.pk).status == "cancelled"
    assert Member.objects.get(pk=other.member_id).points_balance == 500
    assert Gift.objects.get(pk=exchange.gift_id).issued == 1
    assert points_reconcile(shop=shop) == []


def test_refused_actions_say_why_and_change_nothing(owner_client, shop):
    exchange = pending_exchange(shop)
    coupon_exchange = mall_exchange(
        shop=shop, member=exchange.member, template=make_template(shop, points_price=10), idempotency_key="c"
    )[0]
    before = exchange_state(exchange)

    no_number = owner_client.post(url("coupon_mall_ship", shop, exchange.pk), {"tracking_number": " "}, follow=True)
    assert messages_of(no_number) == ["Give the tracking number (at most 64 characters)."]
    early = owner_client.post(url("coupon_mall_deliver", shop, exchange.pk), follow=True)
    assert messages_of(early) == ["This gift has not been shipped yet."]
    coupon = owner_client.post(url("coupon_mall_cancel", shop, coupon_exchange.pk), follow=True)
    assert messages_of(coupon) == ["A coupon bought with points is in the member's wallet: it is not shipped."]
    assert exchange_state(exchange) == before

    mall_cancel(shop=shop, exchange=exchange)
    after_cancel = exchange_state(exchange)
    again = owner_client.post(url("coupon_mall_cancel", shop, exchange.pk), follow=True)
    assert messages_of(again) == ["This exchange has been cancelled."]
    assert exchange_state(exchange) == after_cancel


# --- Another shop's objects ------------------------------------------------------------------------------------------


def test_another_shops_gift_and_exchange_answer_404_and_stay_unchanged(owner_client, shop, other_shop):
    foreign = pending_exchange(other_shop)
    before = exchange_state(foreign)
    gift_before = list(Gift.objects.filter(pk=foreign.gift_id).values())

    for name, data in (
        ("coupon_mall_ship", {"tracking_number": "SF1"}),
        ("coupon_mall_deliver", {}),
        ("coupon_mall_cancel", {"reason": "x"}),
    ):
        assert owner_client.post(url(name, shop, foreign.pk), data).status_code == 404
    assert owner_client.get(url("coupon_mall_gift_edit", shop, foreign.gift_id)).status_code == 404
    edit = {"name": "改", "points_price": "1", "stock": "100"}
    assert owner_client.post(url("coupon_mall_gift_edit", shop, foreign.gift_id), edit).status_code == 404
    assert owner_client.post(url("coupon_mall_gift_active", shop, foreign.gift_id), {"active": "0"}).status_code == 404

    assert exchange_state(foreign) == before
    assert list(Gift.objects.filter(pk=foreign.gift_id).values()) == gift_before
    assert "保温杯" not in text(owner_client.get(url("coupon_mall", shop)))
    assert list(owner_client.get(url("coupon_mall_queue", shop), {"status": ""}).context["exchanges"]) == []


# --- The operations admin ------------------------------------------------------------------------------------------


@pytest.fixture
def ops_client(client):
    client.force_login(UserFactory(email="ops@huiyuan.example", is_staff=True, is_superuser=True))
    return client


def _coupon_history(shop):
    template = make_template(shop, points_price=10)
    exchange = pending_exchange(shop)
    mall_exchange(shop=shop, member=exchange.member, template=template, idempotency_key="c")
    coupon = Coupon.objects.get(shop=shop, template=template)
    coupon_redeem(
        shop=shop, code=coupon.code, member=exchange.member, order_external_id="A1", cart=Cart(amount=Decimal("150"))
    )
    return coupon


@pytest.mark.parametrize(
    "path",
    ["coupontemplate", "coupon", "redemption", "grantjob", "tiergift", "giftrun", "gift", "exchange"],
)
def test_every_coupons_changelist_shows_all_shops_and_searches(ops_client, shop, other_shop, path):
    codes = [_coupon_history(s).code for s in (shop, other_shop)]
    for query in ({}, {"q": "shop"}, {"q": codes[0]}):
        assert ops_client.get(f"/admin/coupons/{path}/", query).status_code == 200
    if path == "coupon":
        page = ops_client.get("/admin/coupons/coupon/", {"q": codes[1]}).content.decode()
        assert codes[1] in page and codes[0] not in page


@pytest.mark.parametrize("path", ["coupon", "redemption", "exchange", "giftrun", "grantjob", "tiergift"])
def test_coupon_history_is_read_only_in_the_admin(ops_client, shop, path):
    _coupon_history(shop)
    assert ops_client.get(f"/admin/coupons/{path}/add/").status_code == 403
    if path in ("coupon", "redemption", "exchange"):
        model = {"coupon": Coupon, "redemption": Redemption, "exchange": Exchange}[path]
        obj = model.objects.filter(shop=shop).first()
        before = list(model.objects.filter(pk=obj.pk).values())
        assert ops_client.post(f"/admin/coupons/{path}/{obj.pk}/delete/", {"post": "yes"}).status_code == 403
        assert list(model.objects.filter(pk=obj.pk).values()) == before


def test_a_template_is_corrected_in_the_admin_but_not_its_counter(ops_client, shop):
    template = make_template(shop, points_price=10, stock=100)
    page = ops_client.get(f"/admin/coupons/coupontemplate/{template.pk}/change/")
    assert page.status_code == 200
    assert "issued" not in page.context["adminform"].form.fields
    data = {name: value for name, value in page.context["adminform"].form.initial.items() if value is not None}
    data.update(name="满100减25", value="25", scope_values="[]", audience_tiers="[]", audience_tags="[]", issued="99")

    ops_client.post(f"/admin/coupons/coupontemplate/{template.pk}/change/", data)
    bad = ops_client.post(f"/admin/coupons/coupontemplate/{template.pk}/change/", {**data, "value": "150"})

    assert bad.status_code == 200
    assert bad.context["adminform"].form.errors == {"value": ["The amount off cannot be more than the minimum spend."]}
    saved = CouponTemplate.objects.get(pk=template.pk)
    assert (saved.name, saved.value, saved.issued) == ("满100减25", 25, 0)
    assert AuditLogEntry.objects.get(shop=shop, action="coupon_template.update").changes["name"] == [
        "满100减20",
        "满100减25",
    ]


def test_a_gift_is_corrected_in_the_admin_through_the_service(ops_client, shop):
    exchange = pending_exchange(shop)
    path = f"/admin/coupons/gift/{exchange.gift_id}/change/"
    data = {"name": "保温杯", "description": "", "points_price": "300", "stock": "0", "active": "on"}

    refused = ops_client.post(path, data)
    saved = ops_client.post(path, {**data, "stock": "9", "issued": "0"})

    assert refused.context["adminform"].form.errors == {
        "stock": ["The stock cannot be less than the 1 already exchanged."]
    }
    assert saved.status_code == 302
    assert Gift.objects.filter(pk=exchange.gift_id).values_list("stock", "issued").get() == (9, 1)
    assert AuditLogEntry.objects.get(shop=shop, action="mall_gift.update").changes == {"stock": ["5", "9"]}


def test_an_admin_correction_keeps_the_coupons_issued_while_the_request_ran(rf, shop):
    from django.contrib.admin.sites import site

    from coupons.admin import CouponTemplateAdmin, CouponTemplateForm
    from coupons.issuance import coupon_issue

    template = make_template(shop, stock=100)
    read_by_the_admin = CouponTemplate.objects.get(pk=template.pk)
    form = CouponTemplateForm(instance=read_by_the_admin)
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(name="满100减25", value="25", scope_values="[]", audience_tiers="[]", audience_tags="[]")
    form = CouponTemplateForm(data, instance=read_by_the_admin)
    assert form.is_valid(), form.errors
    coupon_issue(shop=shop, member=make_member(shop), template=template, idempotency_key="meanwhile", source="claim")
    request = rf.post("/admin/")
    request.user = UserFactory(email="ops2@huiyuan.example", is_staff=True, is_superuser=True)

    CouponTemplateAdmin(CouponTemplate, site).save_model(request, form.instance, form, change=True)

    saved = CouponTemplate.objects.get(pk=template.pk)
    assert (saved.name, saved.value, saved.issued) == ("满100减25", 25, 1)
