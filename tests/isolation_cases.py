"""How to make, in another shop, the object behind every URL that takes an object id, and how to tell whether it
changed. tests/test_isolation.py walks every dashboard and API route: a new route with an id fails until it has a
case here. Later apps add their cases to CASES."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from members.models import Member
from members.services import Enrolment, member_enroll
from orders.models import Order, Refund
from orders.services import OrderInput, order_record
from shops.models import ApiKey, Invitation, Shop, StaffMembership
from shops.roles import Role
from shops.services import SYSTEM, staff_invite

from .factories import add_staff, make_api_key


@dataclass(frozen=True)
class Case:
    make: Callable[[Shop], dict]  # creates an object in the shop, returns the URL kwargs other than shop_slug
    snapshot: Callable[[dict], Any]  # the object's state, which a foreign request must leave as it was


def _staff(shop: Shop) -> dict:
    user = add_staff(shop, Role.MARKETER)
    return {"pk": StaffMembership.objects.get(shop=shop, user=user).pk}


def _staff_state(kwargs: dict):
    return list(StaffMembership.objects.filter(pk=kwargs["pk"]).values("role", "shop_id"))


def _invitation(shop: Shop) -> dict:
    return {"pk": staff_invite(shop=shop, actor=SYSTEM, email=f"invitee@{shop.slug}.example", role=Role.CLERK).pk}


def _api_key(shop: Shop) -> dict:
    api_key, _secret = make_api_key(shop)
    return {"pk": api_key.pk}


def _member(shop: Shop) -> dict:
    member, _created = member_enroll(shop=shop, data=Enrolment(phone="13900139000", name="隔离"))
    return {"pk": member.pk}


def _member_state(kwargs: dict):
    return list(Member.objects.filter(pk=kwargs["pk"]).values())


def _order(shop: Shop) -> dict:
    order_record(
        shop=shop,
        data=OrderInput(external_id="ISO-1", phone="+8613900139001", amount=Decimal("100.00"), paid_at=timezone.now()),
    )
    return {"external_id": "ISO-1"}


def _order_state(kwargs: dict):
    orders = Order.objects.filter(external_id=kwargs["external_id"])
    return list(orders.values()), list(Refund.objects.filter(order__in=orders).values())


CASES: dict[str, Case] = {
    "api:member": Case(_member, _member_state),
    "api:order": Case(_order, _order_state),
    "api:order_refunds": Case(_order, _order_state),
    "dashboard:staff_role": Case(_staff, _staff_state),
    "dashboard:staff_remove": Case(_staff, _staff_state),
    "dashboard:invitation_cancel": Case(
        _invitation, lambda kw: list(Invitation.objects.filter(pk=kw["pk"]).values("cancelled_at", "accepted_at"))
    ),
    "dashboard:api_key_revoke": Case(
        _api_key, lambda kw: list(ApiKey.objects.filter(pk=kw["pk"]).values("revoked_at", "name"))
    ),
}


# --- Members and orders dashboard ------------------------------------------------------------------------------


def _member_with_tag(shop: Shop) -> dict:
    from members.tags import tag_apply, tag_create

    member, _created = member_enroll(shop=shop, data=Enrolment(phone="13900139002", name="隔离标签"))
    tag = tag_create(shop=shop, actor=SYSTEM, name="隔离")
    tag_apply(shop=shop, tag=tag, actor=SYSTEM, definition={"q": member.phone})
    return {"pk": member.pk, "tag_pk": tag.pk}


def _member_with_tag_state(kwargs: dict):
    from members.models import MemberTag, Tag

    return (
        _member_state(kwargs),
        list(MemberTag.objects.filter(member_id=kwargs["pk"]).values("tag_id")),
        list(Tag.objects.filter(pk=kwargs["tag_pk"]).values("member_count", "name")),
    )


def _segment(shop: Shop) -> dict:
    from members.segments import segment_save

    return {"pk": segment_save(shop=shop, actor=SYSTEM, name="隔离", definition={"spend_min": "100"}).pk}


def _segment_state(kwargs: dict):
    from members.models import Segment

    return list(Segment.objects.filter(pk=kwargs["pk"]).values())


def _order_pk(shop: Shop) -> dict:
    recorded = order_record(
        shop=shop,
        data=OrderInput(external_id="ISO-2", phone="+8613900139003", amount=Decimal("80.00"), paid_at=timezone.now()),
    )
    return {"pk": recorded.order.pk}


def _order_pk_state(kwargs: dict):
    return list(Order.objects.filter(pk=kwargs["pk"]).values())


for _name in ("member", "member_edit", "member_phone", "member_freeze", "member_erase", "member_export"):
    CASES[f"dashboard:{_name}"] = Case(_member, _member_state)
CASES["dashboard:member_tag_add"] = Case(_member, _member_state)
CASES["dashboard:member_tag_remove"] = Case(_member_with_tag, _member_with_tag_state)
CASES["dashboard:segment_edit"] = Case(_segment, _segment_state)
CASES["dashboard:segment_delete"] = Case(_segment, _segment_state)
CASES["dashboard:order"] = Case(_order_pk, _order_pk_state)


def _member_with_device(shop: Shop) -> dict:
    from members.services import device_register

    member, _created = member_enroll(shop=shop, data=Enrolment(phone="13900139005", name="隔离设备"))
    device_register(shop=shop, member=member, platform="ios", token="iso-token")
    return {"pk": member.pk}


def _member_devices_state(kwargs: dict):
    from members.models import Device

    return _member_state(kwargs), list(Device.objects.filter(member_id=kwargs["pk"]).values())


CASES["api:member_devices"] = Case(_member_with_device, _member_devices_state)


def _import_job(shop: Shop) -> dict:
    from django.core.files.base import ContentFile

    from members.imports.engine import import_create

    upload = ContentFile("手机号,姓名\n12345,坏号码\n".encode(), name="members.csv")
    return {"pk": import_create(shop=shop, kind="members", upload=upload, actor=SYSTEM, dispatch=False).pk}


def _import_job_state(kwargs: dict):
    from members.models import ImportJob

    return list(ImportJob.objects.filter(pk=kwargs["pk"]).values("status", "processed_rows", "errors", "message"))


CASES["dashboard:import_errors"] = Case(_import_job, _import_job_state)


# --- Points and tiers --------------------------------------------------------------------------------------------


def _member_with_points(shop: Shop) -> dict:
    from points.services import points_earn

    member, _created = member_enroll(shop=shop, data=Enrolment(phone="13900139004", name="隔离积分"))
    points_earn(shop=shop, member=member, points=500, idempotency_key="iso-earn")
    return {"pk": member.pk}


def _member_points_state(kwargs: dict):
    from points.models import PointsEntry, PointsLot

    return (
        _member_state(kwargs),
        list(PointsEntry.objects.filter(member_id=kwargs["pk"]).values()),
        list(PointsLot.objects.filter(member_id=kwargs["pk"]).values()),
    )


for _name in ("member_points", "member_points_redeem", "member_points_adjust"):
    CASES[f"api:{_name}"] = Case(_member_with_points, _member_points_state)


# --- Points dashboard ----------------------------------------------------------------------------------------------


def _bonus_rule(shop: Shop) -> dict:
    from points.program import bonus_rule_save

    rule = bonus_rule_save(
        shop=shop,
        actor=SYSTEM,
        name="隔离双倍",
        kind="date_range",
        multiplier=Decimal(2),
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate(),
    )
    return {"pk": rule.pk}


def _bonus_rule_state(kwargs: dict):
    from points.models import BonusRule

    return list(BonusRule.objects.filter(pk=kwargs["pk"]).values())


for _name in ("points_bonus_edit", "points_bonus_delete", "points_bonus_active"):
    CASES[f"dashboard:{_name}"] = Case(_bonus_rule, _bonus_rule_state)
for _name in ("points_ledger", "points_adjust"):
    CASES[f"dashboard:{_name}"] = Case(_member_with_points, _member_points_state)


# --- Tiers dashboard -----------------------------------------------------------------------------------------------


def _member_with_tier(shop: Shop) -> dict:
    from tiers.selectors import tiers_of_shop
    from tiers.services import tier_assign

    member, _created = member_enroll(shop=shop, data=Enrolment(phone="13900139005", name="隔离等级"))
    tier_assign(shop=shop, member=member, tier=tiers_of_shop(shop=shop).get(rank=2), note="隔离", actor=SYSTEM)
    return {"pk": member.pk}


def _member_tier_state(kwargs: dict):
    from tiers.models import TierChange

    return _member_state(kwargs), list(TierChange.objects.filter(member_id=kwargs["pk"]).values())


def _tier_schedule(shop: Shop) -> dict:
    from datetime import timedelta

    from tiers.services import tier_ladder_schedule

    ladder = [{"rank": 0, "name": "普通会员"}, {"rank": 1, "name": "隔离", "min_spend": "1"}]
    effective_on = timezone.localdate() + timedelta(days=30)
    return {"pk": tier_ladder_schedule(shop=shop, ladder=ladder, effective_on=effective_on, actor=SYSTEM).pk}


def _tier_schedule_state(kwargs: dict):
    from tiers.models import TierSchedule

    return list(TierSchedule.objects.filter(pk=kwargs["pk"]).values())


for _name in ("tier_member", "tier_assign"):
    CASES[f"dashboard:{_name}"] = Case(_member_with_tier, _member_tier_state)
CASES["dashboard:tier_schedule_cancel"] = Case(_tier_schedule, _tier_schedule_state)


# --- Points mall dashboard -----------------------------------------------------------------------------------------


def _mall_gift(shop: Shop) -> dict:
    from coupons.mall import gift_save

    return {"pk": gift_save(shop=shop, actor=SYSTEM, name="隔离礼品", points_price=100, stock=3).pk}


def _mall_gift_state(kwargs: dict):
    from coupons.models import Gift

    return list(Gift.objects.filter(pk=kwargs["pk"]).values())


def _mall_exchange(shop: Shop) -> dict:
    from coupons.mall import gift_save, mall_exchange
    from points.services import points_earn

    gift = gift_save(shop=shop, actor=SYSTEM, name="隔离礼品", points_price=100, stock=3)
    member, _created = member_enroll(shop=shop, data=Enrolment(phone="13900139006", name="隔离商城"))
    points_earn(shop=shop, member=member, points=300, idempotency_key="isolation-mall")
    exchange, _created = mall_exchange(
        shop=shop, member=member, gift=gift, idempotency_key="isolation-mall", address="隔离路1号"
    )
    return {"pk": exchange.pk}


def _mall_exchange_state(kwargs: dict):
    from coupons.models import Exchange, Gift

    exchanges = Exchange.objects.filter(pk=kwargs["pk"])
    members = Member.objects.filter(pk__in=exchanges.values("member_id"))
    gifts = Gift.objects.filter(pk__in=exchanges.values("gift_id"))
    return list(exchanges.values()), list(members.values("points_balance")), list(gifts.values("issued"))


for _name in ("coupon_mall_gift_edit", "coupon_mall_gift_active"):
    CASES[f"dashboard:{_name}"] = Case(_mall_gift, _mall_gift_state)
for _name in ("coupon_mall_ship", "coupon_mall_deliver", "coupon_mall_cancel"):
    CASES[f"dashboard:{_name}"] = Case(_mall_exchange, _mall_exchange_state)


# --- Coupons API ---------------------------------------------------------------------------------------------------


def _coupon_template(shop: Shop) -> dict:
    from coupons.services import template_create

    data = {
        "name": "隔离券",
        "kind": "amount_off",
        "value": Decimal("20"),
        "min_spend": Decimal("100"),
        "stock": 5,
        "valid_days": 30,
    }
    return {"pk": template_create(shop=shop, actor=SYSTEM, data=data).pk}


def _coupon_template_state(kwargs: dict):
    from coupons.models import Coupon, CouponTemplate

    return (
        list(CouponTemplate.objects.filter(pk=kwargs["pk"]).values()),
        list(Coupon.objects.filter(template_id=kwargs["pk"]).values()),
    )


def _member_with_coupon(shop: Shop) -> dict:
    from coupons.issuance import coupon_issue
    from coupons.selectors import template_get

    member, _created = member_enroll(shop=shop, data=Enrolment(phone="13900139006", name="隔离券"))
    template = template_get(shop=shop, pk=_coupon_template(shop)["pk"])
    coupon_issue(shop=shop, member=member, template=template, idempotency_key="iso-coupon", source="claim")
    return {"pk": member.pk}


def _member_coupons_state(kwargs: dict):
    from coupons.models import Coupon, CouponTemplate, Redemption

    coupons = Coupon.objects.filter(member_id=kwargs["pk"])
    templates = CouponTemplate.objects.filter(pk__in=coupons.values("template_id"))
    return (
        _member_state(kwargs),
        list(coupons.values()),
        list(templates.values()),
        list(Redemption.objects.filter(member_id=kwargs["pk"]).values()),
    )


CASES["api:coupon_template"] = Case(_coupon_template, _coupon_template_state)
CASES["api:member_coupons"] = Case(_member_with_coupon, _member_coupons_state)


# --- Coupon grants dashboard ---------------------------------------------------------------------------------------


def _grant_template(shop: Shop):
    from coupons.services import template_create

    data = {"name": "隔离发券", "kind": "no_threshold", "value": Decimal("5"), "stock": 10, "valid_days": 30}
    return template_create(shop=shop, actor=SYSTEM, data=data)


def _grant_job(shop: Shop) -> dict:
    from coupons.grants import grant_create
    from members.segments import segment_save

    member_enroll(shop=shop, data=Enrolment(phone="13900139010", name="隔离发券", region="隔离市"))
    segment = segment_save(shop=shop, actor=SYSTEM, name="隔离发券", definition={"regions": ["隔离市"]})
    job = grant_create(
        shop=shop,
        actor=SYSTEM,
        template=_grant_template(shop),
        segment=segment,
        idempotency_key="iso-grant",
        dispatch=False,
    )
    return {"pk": job.pk}


def _grant_job_state(kwargs: dict):
    from coupons.models import Coupon, GrantJob

    jobs = GrantJob.objects.filter(pk=kwargs["pk"])
    return list(jobs.values()), list(Coupon.objects.filter(template_id__in=jobs.values("template_id")).values())


def _grant_member(shop: Shop) -> dict:
    _grant_template(shop)
    member, _created = member_enroll(shop=shop, data=Enrolment(phone="13900139011", name="隔离单发"))
    return {"pk": member.pk}


def _grant_member_state(kwargs: dict):
    from coupons.models import Coupon

    return _member_state(kwargs), list(Coupon.objects.filter(member_id=kwargs["pk"]).values())


CASES["dashboard:coupon_grant"] = Case(_grant_job, _grant_job_state)
CASES["dashboard:coupon_grant_member"] = Case(_grant_member, _grant_member_state)


# --- Coupon templates dashboard ------------------------------------------------------------------------------------


def _template_with_codes(shop: Shop) -> dict:
    from coupons.services import codes_generate, template_create

    data = {
        "name": "隔离模板",
        "kind": "amount_off",
        "value": Decimal("20"),
        "min_spend": Decimal("100"),
        "stock": 10,
        "valid_days": 30,
    }
    template = template_create(shop=shop, actor=SYSTEM, data=data)
    codes_generate(shop=shop, actor=SYSTEM, template=template, count=2)
    return {"pk": template.pk}


def _template_with_codes_state(kwargs: dict):
    from coupons.models import Coupon, CouponTemplate

    return (
        list(CouponTemplate.objects.filter(pk=kwargs["pk"]).values()),
        list(Coupon.objects.filter(template_id=kwargs["pk"]).values()),
    )


def _tier_gift(shop: Shop) -> dict:
    from coupons.services import template_create
    from coupons.tier_gift_services import tier_gift_add
    from tiers.selectors import tiers_of_shop

    data = {"name": "隔离生日券", "kind": "no_threshold", "value": Decimal("10"), "valid_days": 7}
    template = template_create(shop=shop, actor=SYSTEM, data=data)
    tier = tiers_of_shop(shop=shop).get(rank=1)
    gift = tier_gift_add(shop=shop, actor=SYSTEM, tier=tier, occasion="birthday", template=template, quantity=2)
    return {"pk": gift.pk}


def _tier_gift_state(kwargs: dict):
    from coupons.models import TierGift

    return list(TierGift.objects.filter(pk=kwargs["pk"]).values())


for _name in (
    "coupon_template",
    "coupon_template_edit",
    "coupon_template_status",
    "coupon_codes_generate",
    "coupon_codes_import",
    "coupon_codes_download",
):
    CASES[f"dashboard:{_name}"] = Case(_template_with_codes, _template_with_codes_state)
CASES["dashboard:coupon_tier_gift_remove"] = Case(_tier_gift, _tier_gift_state)


# --- Recruitment -----------------------------------------------------------------------------------------------------


def _channel(shop: Shop) -> dict:
    from recruitment.channels import ChannelInput, channel_create

    template = _grant_template(shop)
    data = ChannelInput(name="隔离渠道", kind="counter", welcome_points=100, welcome_coupon_ids=[template.pk])
    return {"pk": channel_create(shop=shop, actor=SYSTEM, data=data).pk}


def _channel_state(kwargs: dict):
    from recruitment.models import Channel, ChannelTag, WelcomeCoupon

    return (
        list(Channel.objects.filter(pk=kwargs["pk"]).values()),
        list(WelcomeCoupon.objects.filter(channel_id=kwargs["pk"]).values("template_id")),
        list(ChannelTag.objects.filter(channel_id=kwargs["pk"]).values("tag_id")),
    )


for _name in ("channel", "channel_edit", "channel_active", "channel_qr_svg", "channel_qr_png", "channel_poster"):
    CASES[f"dashboard:{_name}"] = Case(_channel, _channel_state)
for _name in ("channel", "channel_qr_svg", "channel_qr_png", "channel_poster"):
    CASES[f"api:{_name}"] = Case(_channel, _channel_state)


# --- Campaigns API -------------------------------------------------------------------------------------------------


def _campaign(shop: Shop) -> dict:
    """A campaign on its way: snapshotted (one queued message), not sent yet, so pause, resume, cancel and send
    would each change something."""
    from .campaigns.helpers import members, started

    members(shop, 1)
    return {"pk": started(shop, holdout_percent=0).pk}


def _campaign_state(kwargs: dict):
    from campaigns.models import Campaign, Message

    return (
        list(Campaign.objects.filter(pk=kwargs["pk"]).values()),
        list(Message.objects.filter(campaign_id=kwargs["pk"]).values()),
    )


for _name in ("campaign", "campaign_edit", "campaign_action", "campaign_test_send"):
    CASES[f"dashboard:{_name}"] = Case(_campaign, _campaign_state)
for _name in ("campaign", "campaign_send", "campaign_pause", "campaign_resume", "campaign_cancel", "campaign_messages"):
    CASES[f"api:{_name}"] = Case(_campaign, _campaign_state)


# --- Automations ---------------------------------------------------------------------------------------------------


def _automation(shop: Shop) -> dict:
    """The shop's default welcome automation (every shop has its defaults)."""
    from automations.models import Automation

    return {"pk": Automation.objects.get(shop=shop, key="welcome").pk}


def _automation_state(kwargs: dict):
    from automations.models import Automation, Step
    from campaigns.models import Campaign

    steps = Step.objects.filter(automation_id=kwargs["pk"])
    return (
        list(Automation.objects.filter(pk=kwargs["pk"]).values()),
        list(steps.values()),
        list(Campaign.objects.filter(pk__in=steps.values("campaign_id")).values()),
    )


def _survey_answer(shop: Shop) -> dict:
    from automations.models import Automation
    from automations.services import survey_answer

    member, _created = member_enroll(shop=shop, data=Enrolment(phone="13900139002", name="调查"))
    order = order_record(
        shop=shop,
        data=OrderInput(external_id="SURVEY-1", member_id=member.pk, amount=Decimal("10.00"), paid_at=timezone.now()),
    ).order
    automation = Automation.objects.get(shop=shop, key="survey")
    return {"pk": survey_answer(shop=shop, automation=automation, member=member, order=order, score=1).pk}


def _survey_answer_state(kwargs: dict):
    from automations.models import SurveyAnswer

    return list(SurveyAnswer.objects.filter(pk=kwargs["pk"]).values())


for _name in ("automation", "automation_edit", "automation_switch"):
    CASES[f"dashboard:{_name}"] = Case(_automation, _automation_state)
CASES["dashboard:survey_answer_review"] = Case(_survey_answer, _survey_answer_state)


def _webhook(shop: Shop) -> dict:
    """An endpoint with one delivery in its log (the shops' receivers are never called: nothing is due to them)."""
    from webhooks.models import Delivery
    from webhooks.services import endpoint_create

    endpoint, _secret = endpoint_create(
        shop=shop, actor=SYSTEM, url=f"https://{shop.slug}.example.com/in", event_types=["member.joined"]
    )
    delivery = Delivery.objects.create(
        shop=shop,
        endpoint=endpoint,
        event_id=uuid.uuid4(),
        event_type="member.joined",
        event_seq=1,
        occurred_at=timezone.now(),
        status="failed",
        attempts=10,
    )
    return {"pk": endpoint.pk, "delivery": delivery.pk}


def _webhook_state(kwargs: dict):
    from webhooks.models import Delivery, Endpoint

    return (
        list(Endpoint.objects.filter(pk=kwargs["pk"]).values()),
        list(Delivery.objects.filter(endpoint_id=kwargs["pk"]).values()),
    )


def _webhook_only(shop: Shop) -> dict:
    return {"pk": _webhook(shop)["pk"]}


for _name in ("webhook", "webhook_rotate", "webhook_deliveries"):
    CASES[f"api:{_name}"] = Case(_webhook_only, _webhook_state)
for _name in ("webhook", "webhook_action", "webhook_replay"):
    CASES[f"dashboard:{_name}"] = Case(_webhook_only, _webhook_state)
CASES["dashboard:webhook_retry"] = Case(_webhook, _webhook_state)
