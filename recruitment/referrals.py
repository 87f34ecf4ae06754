"""Referrals: an invitee who joins through a member's link is recorded once, ever, per phone and shop; the inviter
and the invitee are rewarded once, on the trigger the shop chose (the invitee's joining or first purchase).

Fraud controls: no self-referral; one referral per invitee phone (a hash that outlives erasure); at most
`inviter_cap` rewarded invitations per inviter per period, counted under the inviter's row lock so that racing
joins cannot pass it; at most `ip_daily_limit` rewarded joins from one network address a day. A referral that a
control stops is kept, marked refused with the reason, so the leaderboard and support see it."""

import datetime
import hashlib
import hmac
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from coupons.errors import LimitReached, NotIssuable, OutOfStock
from coupons.issuance import coupon_issue
from coupons.models import Source
from events.outbox import emit
from events.types import EventType
from members.models import Member, MemberStatus
from points.services import points_earn
from shops.models import Shop
from shops.services import audit_record
from shops.time import day_start, local_today

from . import limits
from .channels import code_new
from .models import (
    CapPeriod,
    Referral,
    ReferralCode,
    ReferralCodeRoute,
    ReferralProgram,
    ReferralStatus,
    ReferralTrigger,
)
from .selectors import referral_program_of

logger = logging.getLogger(__name__)

REFUSALS = {
    "program_disabled": gettext_lazy("Referral rewards were off"),
    "ip_velocity": gettext_lazy("Too many joins from one network address"),
    "inviter_cap": gettext_lazy("The inviter reached the limit for the period"),
    "inviter_inactive": gettext_lazy("The inviter is frozen or erased"),
    "invitee_inactive": gettext_lazy("The invitee is frozen or erased"),
}


def phone_hash(shop: Shop, phone: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"referral:{shop.pk}:{phone}".encode(), hashlib.sha256).hexdigest()


def referral_code_for(*, shop: Shop, member: Member) -> str:
    """The member's referral code, made on first use (8 characters, as channel codes)."""
    found = ReferralCode.objects.filter(shop=shop, member=member).values_list("code", flat=True).first()
    if found:
        return found
    for _attempt in range(5):
        try:
            with transaction.atomic():
                # The route holds the code's global uniqueness: a code another shop drew fails there.
                route = ReferralCodeRoute.objects.create(shop=shop, code=code_new())
                return ReferralCode.objects.create(shop=shop, member=member, code=route.code).code
        except IntegrityError:
            found = ReferralCode.objects.filter(shop=shop, member=member).values_list("code", flat=True).first()
            if found:  # made concurrently
                return found
    raise RuntimeError("no free referral code after 5 draws")


def period_start(program: ReferralProgram, *, now: datetime.datetime) -> datetime.datetime:
    """The start, in the shop's time zone, of the cap period that `now` falls in."""
    day = local_today(program.shop, now)
    if program.cap_period == CapPeriod.WEEK:
        day -= datetime.timedelta(days=day.weekday())
    elif program.cap_period == CapPeriod.MONTH:
        day = day.replace(day=1)
    return day_start(program.shop, day)


def _refuse(referral: Referral, reason: str) -> Referral:
    referral.status, referral.refusal = ReferralStatus.REFUSED, reason
    referral.save(update_fields=["status", "refusal"])
    return referral


def _give(*, shop: Shop, member: Member, points: int, template, key: str) -> None:
    if points:
        points_earn(shop=shop, member=member, points=points, idempotency_key=key, reason=_("Referral reward"))
    if template is not None:
        try:
            coupon_issue(
                shop=shop,
                member=member,
                template=template,
                idempotency_key=f"{key}:coupon",
                source=Source.REFERRAL,
                check_audience=False,
            )
        except (OutOfStock, NotIssuable, LimitReached) as exc:
            # The points stand; the coupon is missing and support can see why in the log.
            logger.warning("referral coupon %s not issued to member %s: %s", template.pk, member.pk, exc.code)


@transaction.atomic
def referral_reward(*, shop: Shop, referral: Referral, now: datetime.datetime | None = None) -> Referral:
    """Reward a pending referral's inviter and invitee, unless a control refuses it. Safe to call again: a referral
    is rewarded once, and each reward carries an idempotency key of the referral."""
    now = now or timezone.now()
    program = referral_program_of(shop=shop)
    # The inviter's row lock serialises the rewards of one inviter: the cap's count below is exact.
    inviter = Member.objects.select_for_update().get(shop=shop, pk=referral.inviter_id)
    referral = Referral.objects.select_for_update().get(shop=shop, pk=referral.pk)
    if referral.status != ReferralStatus.PENDING:
        return referral
    if not program.enabled:
        return _refuse(referral, "program_disabled")
    invitee = Member.objects.get(shop=shop, pk=referral.invitee_id)
    if inviter.status != MemberStatus.ACTIVE:
        return _refuse(referral, "inviter_inactive")
    if invitee.status != MemberStatus.ACTIVE:
        return _refuse(referral, "invitee_inactive")
    rewarded = Referral.objects.filter(
        shop=shop, inviter=inviter, status=ReferralStatus.REWARDED, rewarded_at__gte=period_start(program, now=now)
    ).count()
    if rewarded >= program.inviter_cap:
        return _refuse(referral, "inviter_cap")
    key = f"referral:{referral.pk}"
    _give(
        shop=shop, member=inviter, points=program.inviter_points, template=program.inviter_coupon, key=f"{key}:inviter"
    )
    _give(
        shop=shop, member=invitee, points=program.invitee_points, template=program.invitee_coupon, key=f"{key}:invitee"
    )
    referral.status, referral.rewarded_at = ReferralStatus.REWARDED, now
    referral.save(update_fields=["status", "rewarded_at"])
    emit(
        shop_id=shop.pk,
        type=EventType.REFERRAL_REWARDED,
        member_id=inviter.pk,
        occurred_at=now,
        payload={
            "referral_id": referral.pk,
            "invitee_id": invitee.pk,
            "inviter_points": program.inviter_points,
            "invitee_points": program.invitee_points,
        },
    )
    return referral


def referral_record(
    *, shop: Shop, invitee: Member, inviter: Member, ip: str = "", now: datetime.datetime | None = None
) -> Referral | None:
    """Record, in the joining transaction, that `invitee` joined through `inviter`'s link, and reward it at once
    when the shop rewards on joining. None for a self-referral or a phone that was invited before."""
    assert invitee.shop_id == shop.pk and inviter.shop_id == shop.pk
    if inviter.pk == invitee.pk or inviter.phone == invitee.phone:
        return None
    program = referral_program_of(shop=shop)
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                shop=shop,
                inviter=inviter,
                invitee=invitee,
                invitee_phone_hash=phone_hash(shop, invitee.phone),
                status=ReferralStatus.PENDING,
                created_at=now or timezone.now(),
            )
    except IntegrityError:  # this phone was invited before: one referral per invitee phone, ever
        return None
    Member.objects.filter(shop=shop, pk=invitee.pk).update(referrer=inviter)
    invitee.referrer = inviter
    if not program.enabled:
        return _refuse(referral, "program_disabled")
    if ip and not limits.hit(f"referral-ip:{shop.pk}:{ip}", limit=program.ip_daily_limit, window=limits.DAY):
        return _refuse(referral, "ip_velocity")
    if program.trigger == ReferralTrigger.JOIN:
        return referral_reward(shop=shop, referral=referral, now=now)
    return referral


def referrals_first_purchase(*, shop: Shop, member_ids: set[int], now: datetime.datetime | None = None) -> int:
    """Reward the pending referrals of these members, who have just made their first purchase, when the shop
    rewards on first purchase. Returns how many were rewarded."""
    if not member_ids or referral_program_of(shop=shop).trigger != ReferralTrigger.FIRST_PURCHASE:
        return 0
    pending = Referral.objects.filter(shop=shop, invitee_id__in=member_ids, status=ReferralStatus.PENDING)
    done = [referral_reward(shop=shop, referral=r, now=now) for r in pending.order_by("inviter_id", "pk")]
    return sum(r.status == ReferralStatus.REWARDED for r in done)


@transaction.atomic
def referral_program_save(*, shop: Shop, actor, program: ReferralProgram) -> ReferralProgram:
    """Save the shop's referral rules (the dashboard form's instance, validated there) and audit the change."""
    assert program.shop_id == shop.pk
    program.save()
    audit_record(shop=shop, actor=actor, action="referral_program.update", obj=program)
    return program
