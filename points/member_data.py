"""What points knows about a member: the ledger as the dashboard pages it, and the member's timeline and privacy
export (members.timeline; registered for the extension point MEMBER_DATA)."""

from datetime import datetime

from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from members.models import Member
from members.timeline import TimelineEvent
from shops.models import Shop

from .models import EntryKind, PendingAward, PendingState, PointsEntry


def points_entries(
    *,
    shop: Shop,
    member: Member,
    kind: str = "",
    created_from: datetime | None = None,
    created_until: datetime | None = None,
) -> QuerySet[PointsEntry]:
    """The member's ledger entries, newest first, optionally of one kind and created in [created_from,
    created_until). Each carries `lot_remaining` and `lot_expires_at` (None for entries that took points)."""
    entries = PointsEntry.objects.filter(shop=shop, member=member)
    if kind:
        entries = entries.filter(kind=kind)
    if created_from:
        entries = entries.filter(created_at__gte=created_from)
    if created_until:
        entries = entries.filter(created_at__lt=created_until)
    return entries.annotate(lot_remaining=F("lot__remaining"), lot_expires_at=F("lot__expires_at")).order_by(
        "-created_at", "-id"
    )


def pending_awards(*, shop: Shop, member: Member) -> QuerySet[PendingAward]:
    """The member's points still waiting out an order's return window, soonest available first."""
    return PendingAward.objects.filter(shop=shop, member=member, state=PendingState.PENDING).order_by(
        F("available_at").asc(nulls_last=True), "id"
    )


def _title(entry: PointsEntry) -> str:
    points = abs(entry.points)
    if entry.kind == EntryKind.EARN:
        return ngettext("Earned %(points)s point", "Earned %(points)s points", points) % {"points": points}
    if entry.kind == EntryKind.REDEEM:
        return ngettext("Redeemed %(points)s point", "Redeemed %(points)s points", points) % {"points": points}
    if entry.kind == EntryKind.EXPIRE:
        return ngettext("%(points)s point expired", "%(points)s points expired", points) % {"points": points}
    if entry.kind == EntryKind.REVERSE and entry.points > 0:  # a redemption credited back (points.points_refund)
        return ngettext("%(points)s point given back", "%(points)s points given back", points) % {"points": points}
    if entry.kind == EntryKind.REVERSE:
        return ngettext("%(points)s point taken back", "%(points)s points taken back", points) % {"points": points}
    return _("Points adjusted by %(points)s") % {"points": f"{entry.points:+d}"}


def _detail(entry: PointsEntry) -> str:
    parts = []
    if entry.order_external_id:
        parts.append(_("Order %(number)s") % {"number": entry.order_external_id})
    if entry.reason:
        parts.append(entry.reason)
    return " · ".join(parts)


def timeline(*, shop: Shop, member: Member, limit: int) -> list[TimelineEvent]:
    """The member's latest ledger entries and pending points (each at most `limit`), newest first."""
    ledger = reverse("dashboard:points_ledger", kwargs={"shop_slug": shop.slug, "pk": member.pk})
    events = [
        TimelineEvent(at=entry.created_at, kind="points", title=_title(entry), detail=_detail(entry), url=ledger)
        for entry in PointsEntry.objects.filter(shop=shop, member=member).order_by("-created_at", "-id")[:limit]
    ]
    for award in pending_awards(shop=shop, member=member).order_by("-created_at", "-id")[:limit]:
        title = ngettext("%(points)s point pending", "%(points)s points pending", award.points)
        events.append(
            TimelineEvent(
                at=award.created_at,
                kind="points",
                title=title % {"points": award.points},
                detail=_("Order %(number)s") % {"number": award.order_external_id},
                url=ledger,
            )
        )
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:limit]


def export(*, shop: Shop, member: Member) -> dict:
    """Every ledger entry of the member (oldest first) and every award of points for an order's return window."""
    entries = PointsEntry.objects.filter(shop=shop, member=member).order_by("created_at", "id")
    awards = PendingAward.objects.filter(shop=shop, member=member).order_by("created_at", "id")
    return {
        "points_entries": [
            {
                "id": e.pk,
                "kind": e.kind,
                "points": e.points,
                "reason": e.reason,
                "order_external_id": e.order_external_id,
                "reverses": e.reverses_id,
                "created_at": e.created_at,
            }
            for e in entries
        ],
        "points_pending": [
            {
                "order_external_id": a.order_external_id,
                "points": a.points,
                "state": a.state,
                "available_at": a.available_at,
                "created_at": a.created_at,
            }
            for a in awards
        ],
    }
