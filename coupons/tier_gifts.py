"""Tier gifts (coupons.models.TierGift): coupons for a tier's members on reaching it, on their birthday and every
month, in the shop's time zone. An hourly task calls tier_gifts_issue per shop; each gift is issued set-based by
coupons_issue_bulk with keys that make it once-only:

- upgrade:  "upgrade#<gift>#<year>#<n>#<member>": once per member, tier and calendar year, for upgrades (and manual
  assignments to a higher tier) of the last UPGRADE_LOOKBACK;
- birthday: "birthday#<gift>#<year>#<n>#<member>": on the member's birthday (29 February: on 28 February in other
  years), for the members then in the tier;
- monthly:  "monthly#<gift>#<yyyy-mm>#<n>#<member>": the month's pack for the members in the tier when it runs.

A birthday or monthly run done for its day or month is recorded (GiftRun), so later hours skip it; a run cut short
is redone in full next hour, and the keys keep it from issuing twice. A paused or ended template issues nothing."""

import calendar
import datetime
from collections import defaultdict

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from members.models import Member, MemberStatus
from shops.models import Shop
from shops.time import local_date, local_today, shop_zone
from tiers.models import ChangeReason, Tier, TierChange

from .errors import NotIssuable
from .issuance import BulkIssued, coupons_issue_bulk
from .models import GiftRun, Occasion, Source, TemplateStatus, TierGift

UPGRADE_LOOKBACK = datetime.timedelta(days=3)
CHUNK = 10_000
SOURCES = {
    Occasion.UPGRADE: Source.TIER_UPGRADE,
    Occasion.BIRTHDAY: Source.BIRTHDAY,
    Occasion.MONTHLY: Source.TIER_MONTHLY,
}


def _issue(*, shop: Shop, gift: TierGift, member_ids: list[int], prefix: str, now: datetime.datetime) -> BulkIssued:
    total = BulkIssued()
    for n in range(1, gift.quantity + 1):
        for start in range(0, len(member_ids), CHUNK):
            try:
                total.add(coupons_issue_bulk(
                    shop=shop, template=gift.template, member_ids=member_ids[start : start + CHUNK],
                    key_prefix=f"{prefix}#{n}#", source=SOURCES[gift.occasion], now=now,
                ))  # fmt: skip
            except NotIssuable:  # the template was paused or ended, or its window is over: nothing more to give
                return total
    return total


def _holders(tier: Tier) -> Q:
    return Q(tier__isnull=True) if tier.rank == 0 else Q(tier=tier)


def _gifts(shop: Shop, occasion: str) -> list[TierGift]:
    return list(
        TierGift.objects.filter(shop=shop, occasion=occasion, template__status=TemplateStatus.ACTIVE)
        .select_related("tier", "template")
        .order_by("pk")
    )


def _upgrades(shop: Shop, now: datetime.datetime) -> int:
    gifts = defaultdict(list)
    for gift in _gifts(shop, Occasion.UPGRADE):
        gifts[gift.tier_id].append(gift)
    if not gifts:
        return 0
    changes = (
        TierChange.objects.filter(shop=shop, changed_at__gte=now - UPGRADE_LOOKBACK, to_tier_id__in=list(gifts))
        .filter(reason__in=[ChangeReason.UPGRADE, ChangeReason.MANUAL])
        .filter(Q(from_tier__isnull=True) | Q(from_tier__rank__lt=F("to_tier__rank")))
        .values_list("to_tier_id", "member_id", "changed_at")
    )
    zone = shop_zone(shop)
    by_gift_year = defaultdict(set)
    for tier_id, member_id, changed_at in changes:
        for gift in gifts[tier_id]:
            by_gift_year[(gift, local_date(zone, changed_at).year)].add(member_id)
    issued = 0
    for (gift, year), member_ids in sorted(by_gift_year.items(), key=lambda kv: (kv[0][0].pk, kv[0][1])):
        done = _issue(shop=shop, gift=gift, member_ids=sorted(member_ids), prefix=f"upgrade#{gift.pk}#{year}", now=now)
        issued += done.issued
    return issued


def _birthday_today(today: datetime.date) -> Q:
    q = Q(birthday_month=today.month, birthday_day=today.day)
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        q |= Q(birthday_month=2, birthday_day=29)
    return q


def _periodic(shop: Shop, occasion: str, period: str, members: Q, prefix: str, now: datetime.datetime) -> int:
    if GiftRun.objects.filter(shop=shop, occasion=occasion, period=period).exists():
        return 0
    issued = 0
    for gift in _gifts(shop, occasion):
        member_ids = list(
            Member.objects.filter(shop=shop, status=MemberStatus.ACTIVE)
            .filter(members & _holders(gift.tier))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        issued += _issue(shop=shop, gift=gift, member_ids=member_ids, prefix=f"{occasion}#{gift.pk}#{prefix}",
                         now=now).issued  # fmt: skip
    with transaction.atomic():
        GiftRun.objects.get_or_create(
            shop=shop, occasion=occasion, period=period, defaults={"issued": issued, "finished_at": now}
        )
    return issued


def tier_gifts_issue(*, shop: Shop, now: datetime.datetime | None = None) -> dict[str, int]:
    """Issue what is due now: upgrade gifts of recent upgrades, today's birthday gifts, this month's packs.
    Returns the coupons issued per occasion."""
    now = now or timezone.now()
    today = local_today(shop, now)
    return {
        Occasion.UPGRADE: _upgrades(shop, now),
        Occasion.BIRTHDAY: _periodic(
            shop, Occasion.BIRTHDAY, today.isoformat(), _birthday_today(today), str(today.year), now
        ),
        Occasion.MONTHLY: _periodic(shop, Occasion.MONTHLY, f"{today:%Y-%m}", Q(), f"{today:%Y-%m}", now),
    }
