"""Reads of tiers: the ladder, a member's tier and history, how members spread over the tiers, and how far a
member is from the next tier. tier_find, tier_base_of and tiers_of_shop also answer members' own tier lookups
(the TIER_LOOKUP extension point, registered in TiersConfig.ready())."""

from datetime import datetime
from decimal import Decimal

from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from members.models import Member, MemberStatus
from shops.ids import parse_id
from shops.models import Shop
from shops.time import shop_zone

from .evaluation import member_figures
from .models import Combine, Tier, TierChange, TierEvaluation, TierSchedule, Window
from .rules import RETIRED_RANK, year_end

CURRENCY_SYMBOLS = {"CNY": "¥", "JPY": "¥", "USD": "$", "HKD": "HK$", "TWD": "NT$", "EUR": "€", "GBP": "£"}


def tiers_of_shop(*, shop: Shop) -> QuerySet[Tier]:
    """The shop's ladder by rank (tiers removed from it, kept for their history, left out)."""
    return Tier.objects.filter(shop=shop, rank__lt=RETIRED_RANK).order_by("rank")


def tier_base_of(*, shop: Shop) -> Tier | None:
    """The tier members hold on joining (rank 0): the one a NULL Member.tier means. None without a ladder."""
    return Tier.objects.filter(shop=shop, rank=0).first()


def tier_find(*, shop: Shop, name_or_id: str) -> Tier:
    """A tier of the shop (on its ladder or retired from it) by id or exact name. Raises Tier.DoesNotExist."""
    tiers = Tier.objects.filter(shop=shop)
    if (pk := parse_id(name_or_id)) is not None and (by_id := tiers.filter(pk=pk).first()):
        return by_id
    return tiers.get(name=name_or_id)


def tier_of_member(*, shop: Shop, member: Member, ladder: list[Tier] | None = None) -> Tier:
    """The member's tier; NULL means the shop's rank-0 tier. Raises Tier.DoesNotExist for another shop's member.
    With the shop's `ladder` (tiers_of_shop, read once by a page that needs both), no query unless the member holds
    a tier removed from it."""
    if member.shop_id != shop.pk:
        raise Tier.DoesNotExist
    if ladder is not None:
        found = [t for t in ladder if t.pk == member.tier_id or (member.tier_id is None and t.rank == 0)]
        if found:
            return found[0]
    if member.tier_id is not None:
        return Tier.objects.get(shop=shop, pk=member.tier_id)
    return Tier.objects.get(shop=shop, rank=0)


def tier_changes_of_member(*, shop: Shop, member: Member) -> QuerySet[TierChange]:
    """The member's tier history, latest first (from_tier/to_tier NULL: the rank-0 tier)."""
    return (
        TierChange.objects.filter(shop=shop, member=member)
        .select_related("from_tier", "to_tier")
        .order_by("-changed_at", "-id")
    )


def tier_distribution(*, shop: Shop) -> list[tuple[Tier, int]]:
    """Every tier of the ladder with its number of live (not erased) members, in one GROUP BY over members."""
    tiers = list(tiers_of_shop(shop=shop))
    counts = (
        Member.objects.filter(shop=shop)
        .exclude(status=MemberStatus.ERASED)
        .order_by()
        .values_list("tier")
        .annotate(n=Count("id"))
    )
    base = tiers[0].pk if tiers else None
    by_tier: dict[int | None, int] = {}
    for tier_id, n in counts:
        key = base if tier_id is None else tier_id
        by_tier[key] = by_tier.get(key, 0) + n
    return [(tier, by_tier.get(tier.pk, 0)) for tier in tiers]


def tier_schedules_pending(*, shop: Shop) -> QuerySet[TierSchedule]:
    """Ladder changes waiting for their date, soonest first."""
    return TierSchedule.objects.filter(shop=shop, applied_at__isnull=True).order_by("effective_on", "pk")


def tier_schedule_get(*, shop: Shop, pk: int) -> TierSchedule:
    return TierSchedule.objects.get(shop=shop, pk=pk)


def tier_evaluations_recent(*, shop: Shop, limit: int = 10) -> QuerySet[TierEvaluation]:
    return TierEvaluation.objects.filter(shop=shop).order_by("-started_at", "-pk")[:limit]


def _money(shop: Shop, amount: Decimal) -> str:
    symbol = CURRENCY_SYMBOLS.get(shop.currency, f"{shop.currency} ")
    return f"{symbol}{amount:,.2f}"


def _join(parts: list[str], combine: str) -> str:
    if len(parts) == 1:
        return parts[0]
    template = _("%(rest)s and %(last)s") if combine == Combine.ALL else _("%(rest)s or %(last)s")
    return template % {"rest": _(", ").join(parts[:-1]), "last": parts[-1]}


def tier_progress(
    *, shop: Shop, member: Member, now: datetime | None = None, ladder: list[Tier] | None = None
) -> dict | None:
    """How far the member is from the next tier that can be reached by qualifying (manual-only tiers skipped):
    {"tier", "window", "combine", "figures": {"spend", "orders", "growth"}, "missing": {...} (per threshold the
    tier sets: what is still needed, 0 when met), "deadline" (31 December for a calendar-year window, else None),
    "message"}: a sentence for the shopper, e.g. "Spend ¥380.00 more by 2026-12-31 to reach VIP会员". None at the
    top of the ladder, and for an erased member. `ladder`: the shop's tiers, when the caller has read them."""
    if member.status == MemberStatus.ERASED:
        return None
    now = now or timezone.now()
    ladder = list(tiers_of_shop(shop=shop)) if ladder is None else ladder
    current = tier_of_member(shop=shop, member=member, ladder=ladder)
    higher = [t for t in ladder if t.rank > current.rank and t.has_thresholds]
    if not higher:
        return None
    tier = higher[0]
    figures = member_figures(shop=shop, member=member, window=tier.window, now=now)
    missing = {}
    if tier.min_spend is not None:
        missing["spend"] = max(tier.min_spend - figures["spend"], Decimal(0)).quantize(Decimal("0.01"))
    if tier.min_orders is not None:
        missing["orders"] = max(tier.min_orders - figures["orders"], 0)
    if tier.min_growth is not None:
        missing["growth"] = max(tier.min_growth - figures["growth"], 0)
    deadline = year_end(now=now, zone=shop_zone(shop)) if tier.window == Window.CALENDAR_YEAR else None
    met = (
        all(v == 0 for v in missing.values()) if tier.combine == Combine.ALL else any(v == 0 for v in missing.values())
    )
    if met:
        message = _("You qualify for %(tier)s; it is applied at the next evaluation") % {"tier": tier.name}
    else:
        parts = []
        if missing.get("spend"):
            parts.append(_("spend %(amount)s more") % {"amount": _money(shop, missing["spend"])})
        if missing.get("orders"):
            count = missing["orders"]
            parts.append(
                ngettext("place %(count)d more order", "place %(count)d more orders", count) % {"count": count}
            )
        if missing.get("growth"):
            parts.append(_("earn %(value)d more growth value") % {"value": missing["growth"]})
        values = {"actions": _join(parts, tier.combine), "tier": tier.name}
        if deadline:
            message = _("%(actions)s by %(date)s to reach %(tier)s") % {**values, "date": deadline.isoformat()}
        else:
            message = _("%(actions)s to reach %(tier)s") % values
        message = message[:1].upper() + message[1:]
    return {
        "tier": tier,
        "window": tier.window,
        "combine": tier.combine,
        "figures": figures,
        "missing": missing,
        "deadline": deadline,
        "message": message,
    }
