"""Using coupons (coupons.redemption): windows in the shop's time zone, the reasons a coupon is refused,
single use tied to an order, what a refund or a cancellation does to it, expiry, stacking and bearer codes."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone

from coupons.errors import AlreadyRedeemed, CouponNotUsable
from coupons.issuance import coupon_issue
from coupons.models import Coupon, CouponStatus, CouponTemplate, Redemption, Reversal
from coupons.redemption import coupon_redeem, coupon_validate, coupons_expire
from coupons.rules import Cart
from coupons.services import codes_generate, template_set_status
from orders.models import Order
from orders.services import OrderInput, RefundInput, order_change_status, order_record, refund_record
from shops.services import SYSTEM

from .helpers import days, make_member, make_template

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
CART = Cart(amount=Decimal("150.00"))


def _issue(shop, member, template, key="k", now=None):
    return coupon_issue(
        shop=shop, member=member, template=template, idempotency_key=key, source="claim", now=now
    ).coupon


def _validate(shop, coupon, member, cart=CART, now=None):
    return coupon_validate(shop=shop, code=coupon.code, member=member, cart=cart, now=now)


def _redeem(shop, coupon, member, order="TB-1", cart=CART, now=None):
    return coupon_redeem(shop=shop, code=coupon.code, member=member, order_external_id=order, cart=cart, now=now)


def _state(coupon) -> tuple:
    coupon = Coupon.objects.get(pk=coupon.pk)
    return coupon.status, coupon.member_id, Redemption.objects.filter(coupon=coupon).count()


def _set_zone(shop, zone: str):
    shop.time_zone = zone
    shop.save(update_fields=["time_zone"])


# --- Windows ------------------------------------------------------------------------------------------------------


def test_a_valid_days_coupon_ends_at_midnight_in_a_new_york_shop(shop):
    _set_zone(shop, "America/New_York")
    template = make_template(shop, valid_days=1)
    member = make_member(shop)
    issued_at = datetime.datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 22:00 on 1 March in New York

    coupon = _issue(shop, member, template, now=issued_at)

    new_york = zoneinfo.ZoneInfo("America/New_York")
    assert coupon.valid_until == datetime.datetime(2026, 3, 2, tzinfo=new_york)
    assert coupon.valid_until == datetime.datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    last_moment = datetime.datetime(2026, 3, 2, 4, 59, 59, tzinfo=UTC)
    assert _validate(shop, coupon, member, now=last_moment).discount == Decimal("20")
    expired = _validate(shop, coupon, member, now=datetime.datetime(2026, 3, 2, 5, 0, tzinfo=UTC))
    assert (expired.valid, expired.reason) == (False, "expired")
    assert expired.details == {"valid_until": datetime.datetime(2026, 3, 2, 5, 0, tzinfo=UTC)}


def test_the_same_instant_in_a_shanghai_shop_gives_the_next_local_midnight(shop):
    template = make_template(shop, valid_days=1)  # the shop's time zone is Asia/Shanghai by default
    member = make_member(shop)
    issued_at = datetime.datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 on 2 March in Shanghai

    coupon = _issue(shop, member, template, now=issued_at)

    assert coupon.valid_until == datetime.datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 3 March, 00:00 in Shanghai
    assert _validate(shop, coupon, member, now=datetime.datetime(2026, 3, 2, 15, 59, tzinfo=UTC)).valid
    assert _validate(shop, coupon, member, now=datetime.datetime(2026, 3, 2, 16, 0, tzinfo=UTC)).reason == "expired"


def test_a_window_across_the_start_of_daylight_saving_time_ends_at_local_midnight(shop):
    _set_zone(shop, "America/New_York")
    template = make_template(shop, valid_days=2)
    member = make_member(shop)
    issued_at = datetime.datetime(2026, 3, 7, 17, 0, tzinfo=UTC)  # 12:00 EST on 7 March; clocks go forward on the 8th

    coupon = _issue(shop, member, template, now=issued_at)

    assert coupon.valid_until == datetime.datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # 9 March, 00:00 EDT (UTC-4)


def test_a_fixed_window_refuses_before_its_start_and_after_its_end(shop):
    starts = datetime.datetime(2026, 12, 1, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    ends = datetime.datetime(2026, 12, 13, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    template = make_template(shop, valid_days=None, valid_from=starts, valid_until=ends)
    member = make_member(shop)
    coupon = _issue(shop, member, template, now=starts - days(10))

    early = _validate(shop, coupon, member, now=starts - datetime.timedelta(seconds=1))
    on_time = _validate(shop, coupon, member, now=starts)
    late = _validate(shop, coupon, member, now=ends)

    assert (early.reason, early.details) == ("not_started", {"valid_from": starts})
    assert on_time.valid and on_time.discount == Decimal("20")
    assert (late.reason, late.details) == ("expired", {"valid_until": ends})
    with pytest.raises(CouponNotUsable) as refused:
        _redeem(shop, coupon, member, now=ends)
    assert refused.value.details == {"reason": "expired"}
    assert _state(coupon) == (CouponStatus.AVAILABLE, member.pk, 0)


# --- Reasons ------------------------------------------------------------------------------------------------------


def test_another_members_coupon_is_refused_and_stays_theirs(shop):
    template = make_template(shop)
    owner, other = make_member(shop, 1), make_member(shop, 2)
    coupon = _issue(shop, owner, template)

    assert _validate(shop, coupon, other).reason == "not_this_member"
    with pytest.raises(CouponNotUsable) as refused:
        _redeem(shop, coupon, other)

    assert refused.value.details == {"reason": "not_this_member"}
    assert _state(coupon) == (CouponStatus.AVAILABLE, owner.pk, 0)


def test_a_used_coupon_validates_as_used_and_another_order_is_already_redeemed(shop):
    template = make_template(shop)
    member = make_member(shop)
    coupon = _issue(shop, member, template)
    _redeem(shop, coupon, member, order="TB-1")

    assert _validate(shop, coupon, member).reason == "used"
    with pytest.raises(AlreadyRedeemed):
        _redeem(shop, coupon, member, order="TB-2")
    assert _state(coupon) == (CouponStatus.REDEEMED, member.pk, 1)


def test_a_void_coupon_is_refused(shop):
    template = make_template(shop, on_refund="void")
    member = make_member(shop)
    coupon = _issue(shop, member, template)
    order = _order(shop, member)
    _redeem(shop, coupon, member, order="TB-1")
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R-1", amount=Decimal("150.00")))

    assert _validate(shop, coupon, member).reason == "void"
    with pytest.raises(CouponNotUsable) as refused:
        _redeem(shop, coupon, member, order="TB-2")
    assert refused.value.details == {"reason": "void"}
    assert _state(coupon) == (CouponStatus.VOID, member.pk, 1)


def test_a_cart_below_the_threshold_is_refused_with_what_it_lacks(shop):
    template = make_template(shop)  # 满100减20
    member = make_member(shop)
    coupon = _issue(shop, member, template)

    checked = _validate(shop, coupon, member, cart=Cart(amount=Decimal("88.00")))

    assert (checked.valid, checked.discount, checked.reason) == (False, Decimal("0.00"), "below_threshold")
    assert checked.details == {"min_spend": "100.00", "short_by": "12.00"}
    with pytest.raises(CouponNotUsable):
        _redeem(shop, coupon, member, cart=Cart(amount=Decimal("88.00")))
    assert _state(coupon) == (CouponStatus.AVAILABLE, member.pk, 0)


def test_a_paused_template_keeps_its_coupons_usable(shop):
    template = make_template(shop)
    member = make_member(shop)
    coupon = _issue(shop, member, template)
    template_set_status(shop=shop, actor=SYSTEM, template=template, status="paused")

    assert _redeem(shop, coupon, member).created


# --- Single use ---------------------------------------------------------------------------------------------------


def test_a_redemption_retried_for_the_same_order_returns_the_first(shop):
    template = make_template(shop)
    member = make_member(shop)
    coupon = _issue(shop, member, template)

    first = _redeem(shop, coupon, member, order="TB-1", cart=Cart(amount=Decimal("150.00")))
    again = _redeem(shop, coupon, member, order="TB-1", cart=Cart(amount=Decimal("999.00")))

    assert (first.created, again.created) == (True, False)
    assert again.redemption.pk == first.redemption.pk
    redemption = Redemption.objects.get(coupon=coupon)
    assert (redemption.order_amount, redemption.discount, redemption.member_id) == (
        Decimal("150.00"),
        Decimal("20.00"),
        member.pk,
    )
    assert _state(coupon) == (CouponStatus.REDEEMED, member.pk, 1)


# --- Refunds and cancellations ------------------------------------------------------------------------------------


def _order(shop, member, external_id="TB-1", amount="150.00"):
    data = OrderInput(external_id=external_id, member_id=member.pk, amount=Decimal(amount), paid_at=timezone.now())
    return order_record(shop=shop, data=data).order


def test_a_full_refund_gives_a_restore_coupon_back(shop):
    template = make_template(shop, on_refund="restore")
    member = make_member(shop)
    coupon = _issue(shop, member, template)
    order = _order(shop, member)
    _redeem(shop, coupon, member, order="TB-1")

    refund_record(shop=shop, order=order, data=RefundInput(external_id="R-1", amount=Decimal("150.00")))

    assert _state(coupon) == (CouponStatus.AVAILABLE, member.pk, 1)
    redemption = Redemption.objects.get(coupon=coupon)
    assert redemption.reversal == Reversal.RESTORED and redemption.reversed_at is not None
    # given back, it can be used again on another order
    assert _redeem(shop, coupon, member, order="TB-2").created
    assert _state(coupon) == (CouponStatus.REDEEMED, member.pk, 2)


def test_a_full_refund_voids_a_void_coupon(shop):
    template = make_template(shop, on_refund="void")
    member = make_member(shop)
    coupon = _issue(shop, member, template)
    order = _order(shop, member)
    _redeem(shop, coupon, member, order="TB-1")

    refund_record(shop=shop, order=order, data=RefundInput(external_id="R-1", amount=Decimal("150.00")))

    assert _state(coupon) == (CouponStatus.VOID, member.pk, 1)
    assert Redemption.objects.get(coupon=coupon).reversal == Reversal.VOIDED
    assert _validate(shop, coupon, member).reason == "void"


def test_a_coupon_given_back_after_its_window_ended_is_expired(shop):
    template = make_template(shop, valid_days=1)
    member = make_member(shop)
    coupon = _issue(shop, member, template, now=timezone.now() - days(3))
    order = _order(shop, member)
    _redeem(shop, coupon, member, order="TB-1", now=timezone.now() - days(3))

    refund_record(shop=shop, order=order, data=RefundInput(external_id="R-1", amount=Decimal("150.00")))

    assert _state(coupon) == (CouponStatus.EXPIRED, member.pk, 1)


def test_a_partial_refund_leaves_the_coupon_used(shop):
    template = make_template(shop, on_refund="restore")
    member = make_member(shop)
    coupon = _issue(shop, member, template)
    order = _order(shop, member)
    _redeem(shop, coupon, member, order="TB-1")

    refund_record(shop=shop, order=order, data=RefundInput(external_id="R-1", amount=Decimal("149.99")))

    assert _state(coupon) == (CouponStatus.REDEEMED, member.pk, 1)
    assert Redemption.objects.get(coupon=coupon).reversed_at is None
    # the rest of the order refunded: now it is whole, and the coupon comes back
    refund_record(shop=shop, order=order, data=RefundInput(external_id="R-2", amount=Decimal("0.01")))
    assert _state(coupon) == (CouponStatus.AVAILABLE, member.pk, 1)


@pytest.mark.parametrize(("policy", "status"), [("restore", CouponStatus.AVAILABLE), ("void", CouponStatus.VOID)])
def test_cancelling_the_order_reverses_its_coupons_as_the_template_says(shop, policy, status):
    template = make_template(shop, on_refund=policy)
    member = make_member(shop)
    coupon = _issue(shop, member, template)
    order = _order(shop, member)
    _redeem(shop, coupon, member, order="TB-1")

    order_change_status(shop=shop, order=order, status="cancelled")

    assert _state(coupon) == (status, member.pk, 1)
    assert Order.objects.get(pk=order.pk).status == "cancelled"


def test_completing_the_order_leaves_the_coupon_used(shop):
    template = make_template(shop)
    member = make_member(shop)
    coupon = _issue(shop, member, template)
    order = _order(shop, member)
    _redeem(shop, coupon, member, order="TB-1")

    order_change_status(shop=shop, order=order, status="completed")

    assert _state(coupon) == (CouponStatus.REDEEMED, member.pk, 1)


def test_a_refund_of_another_shops_order_with_the_same_number_leaves_this_shops_coupon(shop, other_shop):
    template = make_template(shop)
    member = make_member(shop)
    coupon = _issue(shop, member, template)
    _redeem(shop, coupon, member, order="TB-1")
    foreign = _order(other_shop, make_member(other_shop), external_id="TB-1")

    refund_record(shop=other_shop, order=foreign, data=RefundInput(external_id="R-1", amount=Decimal("150.00")))

    assert _state(coupon) == (CouponStatus.REDEEMED, member.pk, 1)


# --- Expiry -------------------------------------------------------------------------------------------------------


def test_coupons_expire_marks_the_due_coupons_once(shop, other_shop):
    template = make_template(shop, valid_days=1, per_member_limit=3)
    member = make_member(shop)
    now = timezone.now()
    due = _issue(shop, member, template, key="due", now=now - days(2))
    used = _issue(shop, member, template, key="used", now=now - days(2))
    _redeem(shop, used, member, now=now - days(2))
    fresh = _issue(shop, member, template, key="fresh", now=now)
    foreign_template = make_template(other_shop, valid_days=1)
    foreign = _issue(other_shop, make_member(other_shop), foreign_template, key="due", now=now - days(2))

    first = coupons_expire(shop=shop, now=now)
    second = coupons_expire(shop=shop, now=now)

    assert (first, second) == (1, 0)
    statuses = dict(Coupon.objects.filter(pk__in=[due.pk, used.pk, fresh.pk, foreign.pk]).values_list("pk", "status"))
    assert statuses == {due.pk: "expired", used.pk: "redeemed", fresh.pk: "available", foreign.pk: "available"}
    assert Coupon.objects.get(pk=due.pk).status_changed_at == now


# --- Stacking -----------------------------------------------------------------------------------------------------


def test_a_non_stackable_coupon_refuses_a_second_coupon_on_the_same_order(shop):
    plain = make_template(shop, name="不可叠加")
    member = make_member(shop)
    first, second = _issue(shop, member, plain, key="a"), _issue(shop, member, make_template(shop), key="b")
    _redeem(shop, first, member, order="TB-1")

    with pytest.raises(CouponNotUsable) as refused:
        _redeem(shop, second, member, order="TB-1")

    assert refused.value.details == {"reason": "not_stackable"}
    assert _state(second) == (CouponStatus.AVAILABLE, member.pk, 0)
    assert _redeem(shop, second, member, order="TB-2").created  # fine on another order


def test_a_stackable_coupon_is_refused_after_a_non_stackable_one(shop):
    member = make_member(shop)
    plain = _issue(shop, member, make_template(shop, name="不可叠加"), key="a")
    stackable = _issue(shop, member, make_template(shop, name="可叠加", stackable=True), key="b")
    _redeem(shop, plain, member, order="TB-1")

    with pytest.raises(CouponNotUsable) as refused:
        _redeem(shop, stackable, member, order="TB-1")

    assert refused.value.details == {"reason": "not_stackable"}
    assert _state(stackable) == (CouponStatus.AVAILABLE, member.pk, 0)


def test_two_stackable_coupons_combine_on_one_order(shop):
    member = make_member(shop)
    off = _issue(shop, member, make_template(shop, stackable=True), key="a")
    shipping = _issue(
        shop,
        member,
        make_template(shop, name="包邮", kind="free_shipping", value=Decimal(0), min_spend=None, stackable=True),
        key="b",
    )
    cart = Cart(amount=Decimal("150.00"), shipping=Decimal("10.00"))

    _redeem(shop, off, member, order="TB-1", cart=cart)
    _redeem(shop, shipping, member, order="TB-1", cart=cart)

    discounts = sorted(Redemption.objects.filter(order_external_id="TB-1").values_list("discount", flat=True))
    assert discounts == [Decimal("10.00"), Decimal("20.00")]


# --- Bearer codes -------------------------------------------------------------------------------------------------


def test_a_generated_code_binds_to_the_member_who_redeems_it_and_starts_its_window(shop):
    template = make_template(shop, valid_days=7, stock=5)
    codes_generate(shop=shop, actor=SYSTEM, template=template, count=2)
    unclaimed = Coupon.objects.filter(shop=shop, template=template, member__isnull=True, status="available")
    bearer = unclaimed.order_by("pk").first()
    member, other = make_member(shop, 1), make_member(shop, 2)
    now = datetime.datetime(2026, 3, 1, 20, 30, tzinfo=UTC)  # 2 March, 04:30 in Shanghai

    assert (bearer.member_id, bearer.valid_until) == (None, None)
    assert _validate(shop, bearer, member, now=now).discount == Decimal("20")
    redeemed = coupon_redeem(
        shop=shop, code=bearer.code.lower(), member=member, order_external_id="TB-1", cart=CART, now=now
    )

    assert redeemed.created
    coupon = Coupon.objects.get(pk=bearer.pk)
    assert (coupon.member_id, coupon.status, coupon.source) == (member.pk, "redeemed", "generated")
    assert (coupon.valid_from, coupon.valid_until) == (now, datetime.datetime(2026, 3, 8, 16, 0, tzinfo=UTC))
    assert _validate(shop, coupon, other, now=now).reason == "not_this_member"
    assert CouponTemplate.objects.get(pk=template.pk).issued == 2
    assert unclaimed.count() == 1


def test_an_unknown_code_is_not_found_and_another_shops_code_is_unknown(shop, other_shop):
    foreign_member = make_member(other_shop)
    foreign = _issue(other_shop, foreign_member, make_template(other_shop))
    member = make_member(shop)

    with pytest.raises(Coupon.DoesNotExist):
        coupon_validate(shop=shop, code=foreign.code, member=member, cart=CART)
    with pytest.raises(Coupon.DoesNotExist):
        coupon_redeem(shop=shop, code=foreign.code, member=member, order_external_id="TB-1", cart=CART)
    assert _state(foreign) == (CouponStatus.AVAILABLE, foreign_member.pk, 0)


def test_a_frozen_member_cannot_use_a_coupon_and_nothing_changes(shop):
    from members.services import member_set_frozen

    member = make_member(shop)
    coupon = _issue(shop, member, make_template(shop))
    member_set_frozen(shop=shop, actor=SYSTEM, member=member, frozen=True)
    member.refresh_from_db()

    assert _validate(shop, coupon, member).reason == "member_not_active"
    with pytest.raises(CouponNotUsable) as refused:
        _redeem(shop, coupon, member)
    assert refused.value.details == {"reason": "member_not_active"}
    assert Coupon.objects.get(pk=coupon.pk).status == CouponStatus.AVAILABLE
    assert not Redemption.objects.exists()
