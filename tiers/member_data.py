"""What tiers knows about a member, for the member's timeline and privacy export (members.timeline; registered
for the extension point MEMBER_DATA): the tier changes with their reasons, and the growth value ledger."""

from django.utils.translation import gettext as _

from members.models import Member
from members.timeline import TimelineEvent
from shops.models import Shop

from .models import ChangeReason, GrowthEntry
from .selectors import tier_base_of, tier_changes_of_member


def _names(shop: Shop):
    """A tier's name; None (the NULL of Member.tier and TierChange) is the tier members hold on joining."""
    base = tier_base_of(shop=shop)
    base_name = base.name if base else _("(base tier)")
    return lambda tier: tier.name if tier is not None else base_name


def timeline(*, shop: Shop, member: Member, limit: int) -> list[TimelineEvent]:
    """The member's latest `limit` tier changes, newest first."""
    changes = list(tier_changes_of_member(shop=shop, member=member)[:limit])
    if not changes:
        return []
    name, reasons = _names(shop), dict(ChangeReason.choices)
    events = []
    for change in changes:
        detail = str(reasons.get(change.reason, change.reason))
        if change.note:
            detail += f" · {change.note}"
        events.append(
            TimelineEvent(
                at=change.changed_at,
                kind="tier",
                title=_("Tier %(from)s → %(to)s") % {"from": name(change.from_tier), "to": name(change.to_tier)},
                detail=detail,
            )
        )
    return events


def export(*, shop: Shop, member: Member) -> dict:
    """Every tier change of the member and every growth value entry, oldest first."""
    name = _names(shop)
    changes = reversed(list(tier_changes_of_member(shop=shop, member=member)))
    growth = GrowthEntry.objects.filter(shop=shop, member=member).order_by("created_at", "id")
    return {
        "tier_changes": [
            {
                "from_tier": name(c.from_tier),
                "to_tier": name(c.to_tier),
                "reason": c.reason,
                "note": c.note,
                "changed_at": c.changed_at,
            }
            for c in changes
        ],
        "growth_entries": [
            {
                "kind": g.kind,
                "value": g.value,
                "reason": g.reason,
                "order_external_id": g.order_external_id,
                "created_at": g.created_at,
            }
            for g in growth
        ],
    }
