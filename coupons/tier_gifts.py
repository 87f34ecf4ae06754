"""Tier gifts (coupons.models.TierGift): coupons for a tier's members on reaching it, on their birthday and every
month, in the shop's time zone. Each gift is issued set-based by coupons_issue_bulk with keys that make it
once-only:

- upgrade:  "upgrade#<gift>#<year>#<n>#<member>": once per member, tier and calendar year, for upgrades (and manual
  assignments to a higher tier), as their tier.changed events arrive (tier_gifts_on_tier_changed, a consumer of
  the domain events registered in coupons.apps);
- birthday: "birthday#<gift>#<year>#<n>#<member>": on the member's birthday (29 February: on 28 February in other
  years), for the members then in the tier;
- monthly:  "monthly#<gift>#<yyyy-mm>#<n>#<member>": the month's pack for the members in the tier when it runs.

The birthday and monthly gifts are issued by an hourly task calling tier_gifts_issue per shop. A birthday or
monthly run done for its day or month is recorded (GiftRun), so later hours skip it; a run cut short is redone in
full next hour, and the keys keep it from issuing twice. A paused or ended template issues nothing."""

import calendar
import datetime
from collections import defaultdict

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from events.consumers import DomainEvent
from members.models import Member, MemberStatus
from shops.models import Shop
from shops.time import local_date, local_today, shop_zone
from tiers.models import ChangeReason, Tier

from .errors import NotIssuable
from .issuance import BulkIssued, coupons_issue_bulk
from .models import GiftRun, Occasion, Source, TemplateStatus, TierGift

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
                total.add(
                    coupons_issue_bulk(
                        shop=shop,
                        template=gift.template,
                        member_ids=member_ids[start : start + CHUNK],
                        key_prefix=f"{prefix}#{n}#",
                        source=SOURCES[gift.occasion],
                        now=now,
                    )
                )
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


def tier_gifts_on_tier_changed(*, shop: Shop, events: list[DomainEvent]) -> int:
    """The upgrade gifts of these tier.changed events: a rise to a tier with gifts (an upgrade, or a manual
    assignment to a higher tier). Returns the coupons issued. Runs in the transaction that moves the consumer's
    cursor; a chunk read again issues nothing twice (the keys)."""
    gifts = defaultdict(list)
    for gift in _gifts(shop, Occasion.UPGRADE):
        gifts[gift.tier_id].append(gift)
    if not gifts:
        return 0
    rank = dict(Tier.objects.filter(shop=shop).values_list("pk", "rank"))
    zone = shop_zone(shop)
    by_gift_year = defaultdict(set)
    for event in events:
        change = event.payload
        to_tier, from_tier = change["to_tier_id"], change["from_tier_id"]
        if change["reason"] not in (ChangeReason.UPGRADE, ChangeReason.MANUAL) or to_tier not in gifts:
            continue
        if from_tier is not None and rank.get(from_tier, 0) >= rank.get(to_tier, 0):
            continue
        for gift in gifts[to_tier]:
            by_gift_year[(gift, local_date(zone, event.occurred_at).year)].add(event.member_id)
    now = timezone.now()
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
        issued += _issue(
            shop=shop, gift=gift, member_ids=member_ids, prefix=f"{occasion}#{gift.pk}#{prefix}", now=now
        ).issued
    with transaction.atomic():
        GiftRun.objects.get_or_create(
            shop=shop, occasion=occasion, period=period, defaults={"issued": issued, "finished_at": now}
        )
    return issued


def tier_gifts_issue(*, shop: Shop, now: datetime.datetime | None = None) -> dict[str, int]:
    """Issue what is due now: today's birthday gifts, this month's packs. Returns the coupons issued per occasion.
    (Upgrade gifts follow the tier.changed events: tier_gifts_on_tier_changed.)"""
    now = now or timezone.now()
    today = local_today(shop, now)
    return {
        Occasion.BIRTHDAY: _periodic(
            shop, Occasion.BIRTHDAY, today.isoformat(), _birthday_today(today), str(today.year), now
        ),
        Occasion.MONTHLY: _periodic(shop, Occasion.MONTHLY, f"{today:%Y-%m}", Q(), f"{today:%Y-%m}", now),
    }


def tier_birthday_gifts_issue(
    *, shop: Shop, member_ids: list[int], year: int, now: datetime.datetime | None = None
) -> BulkIssued:
    """The birthday gifts of these members' tiers for the birthday in `year`, with the keys of the birthday pass
    (tier_gifts_issue): a member gets each gift once, whether the birthday automation gave it days before with its
    message, or the pass on the day (to members the automation did not reach: it was off, or held them out)."""
    now = now or timezone.now()
    total = BulkIssued()
    for gift in _gifts(shop, Occasion.BIRTHDAY):
        holders = list(
            Member.objects.filter(shop=shop, pk__in=member_ids, status=MemberStatus.ACTIVE)
            .filter(_holders(gift.tier))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if holders:
            total.add(_issue(shop=shop, gift=gift, member_ids=holders, prefix=f"birthday#{gift.pk}#{year}", now=now))
    return total


def tier_gift_names(*, shop: Shop, occasion: str) -> dict[int | None, str]:
    """The names of each tier's gift coupons for `occasion` ("name, name"), by tier id (None: the base tier),
    for messages that name the gift."""
    names: dict[int | None, list[str]] = defaultdict(list)
    for gift in _gifts(shop, occasion):
        names[None if gift.tier.rank == 0 else gift.tier_id].append(gift.template.name)
    return {tier: ", ".join(dict.fromkeys(n)) for tier, n in names.items()}
