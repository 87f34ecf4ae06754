"""Writes on tiers: the ladder (applied now or on a scheduled date), manual assignment, and the evaluation
(tiers.evaluation) they hand over to.

Invariants: a shop's ladder is ranks 0..n without gaps, rank 0 without thresholds; a member's tier is NULL (rank 0)
or a tier of the member's shop on that ladder, and every change of it is a TierChange row with its reason, written
in the transaction that changes it. A tier is lowered only by the evaluation once its retention period is over
(tier_until <= now), or by a ladder change that removes it (reason policy)."""

from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from events.outbox import emit
from events.types import EventType
from members.figures import member_tier_set
from members.models import Member, MemberStatus
from shops.models import Shop
from shops.services import Actor, audit_record
from shops.time import local_today

from .errors import InvalidTierAssignment, MemberErased, TierScheduleApplied, UnknownTier
from .evaluation import ladder_tiers, tiers_evaluate, tiers_move_holders, tiers_upgrade_members
from .models import ChangeReason, EvaluationMode, Tier, TierChange, TierEvaluation, TierSchedule
from .rules import EDITABLE_FIELDS, RETIRED_RANK, TierSpec, ladder_as_json, tier_ladder_validate

__all__ = [
    "LadderApplied",
    "tier_assign",
    "tier_ladder_apply",
    "tier_ladder_schedule",
    "tier_ladder_validate",
    "tier_schedule_cancel",
    "tier_schedules_apply_due",
    "tiers_evaluate",
    "tiers_upgrade_members",
]


@dataclass(frozen=True)
class LadderApplied:
    tiers: list[Tier]
    moved: int  # members of removed ranks moved to the highest rank they qualify for
    evaluation: TierEvaluation | None  # the full evaluation that followed (None: the ladder did not change)


def _editable(tier: Tier) -> dict:
    return {field: getattr(tier, field) for field in EDITABLE_FIELDS}


def _ladder_changes(before: list[dict], after: list[dict]) -> dict:
    """The audit's before/after per tier field ("rank.field"), and whole tiers added or removed ("rank")."""
    old = {t["rank"]: t for t in before}
    new = {t["rank"]: t for t in after}
    changes = {}
    for rank in sorted(old.keys() | new.keys()):
        if rank not in new:
            changes[str(rank)] = [old[rank]["name"], ""]
        elif rank not in old:
            changes[str(rank)] = ["", new[rank]["name"]]
        else:
            for field in EDITABLE_FIELDS:
                if old[rank][field] != new[rank][field]:
                    to_text = ("" if v is None else str(v) for v in (old[rank][field], new[rank][field]))
                    changes[f"{rank}.{field}"] = list(to_text)
    return changes


def _free_names(*, shop: Shop, keep: dict[int, str], names: set[str]) -> None:
    """Make `names` free for the tiers that will bear them (names are unique per shop at every statement). A
    ladder tier that stays (pk in `keep`, with its new name) and whose name another tier takes gets a temporary
    name until it is given its own; a tier leaving the ladder, or retired earlier, keeps its name with its id
    added, as the history will show it."""
    for tier in Tier.objects.filter(shop=shop, name__in=names):
        if keep.get(tier.pk) == tier.name:
            continue
        # Ladder names are stripped, so a leading space cannot clash with one.
        name = f" {tier.pk}" if tier.pk in keep else f"{tier.name[:30]} #{tier.pk}"
        Tier.objects.filter(pk=tier.pk).update(name=name)


def _retire_or_delete(*, shop: Shop, tiers: list[Tier]) -> None:
    """Remove tiers that left the ladder (they hold no members any more). One that history rows (or another app)
    still point to is kept outside the ladder, at a rank from RETIRED_RANK, so that the history keeps its name."""
    for tier in tiers:
        try:
            with transaction.atomic():
                tier.delete()
        except ProtectedError:
            top = Tier.objects.filter(shop=shop, rank__gte=RETIRED_RANK).aggregate(top=Max("rank"))["top"]
            Tier.objects.filter(pk=tier.pk).update(rank=(top or RETIRED_RANK - 1) + 1)


@transaction.atomic
def tier_ladder_apply(*, shop: Shop, ladder: list[dict], actor: Actor, now: datetime | None = None) -> LadderApplied:
    """Replace the shop's ladder by `ladder` (see tier_ladder_validate): tiers are updated in place by rank, new
    ranks created, ranks beyond the new top removed after their members move (reason policy) to the highest rank
    they qualify for; then a full evaluation under the new rules, retention periods respected. Audited as
    tiers.change. Applying the ladder the shop already has changes nothing. Raises InvalidLadder (nothing
    written)."""
    cleaned = tier_ladder_validate(ladder)
    now = now or timezone.now()
    current = ladder_tiers(shop=shop, lock=True)
    before = [_editable(tier) for tier in current]
    if before == cleaned:
        return LadderApplied(tiers=current, moved=0, evaluation=None)
    by_rank = {tier.rank: tier for tier in current}
    _free_names(
        shop=shop,
        keep={by_rank[t["rank"]].pk: t["name"] for t in cleaned if t["rank"] in by_rank},
        names={t["name"] for t in cleaned},
    )
    tiers = []
    for fields in cleaned:  # a handful of rows
        tier = by_rank.get(fields["rank"]) or Tier(shop=shop)
        if tier.pk is None or _editable(tier) != fields:
            for field, value in fields.items():
                setattr(tier, field, value)
            tier.save()
        tiers.append(tier)
    removed = [tier for tier in current if tier.rank > cleaned[-1]["rank"]]
    moved = tiers_move_holders(
        shop=shop,
        specs=[TierSpec.of(t) for t in tiers],
        current_ranks={t.pk: t.rank for t in current},
        tier_ids=[t.pk for t in removed],
        now=now,
        actor=actor.label,
    )
    _retire_or_delete(shop=shop, tiers=removed)
    evaluation = tiers_evaluate(shop=shop, mode=EvaluationMode.FULL, now=now)
    changes = _ladder_changes(before, cleaned)
    if moved:
        changes["members_moved"] = ["", str(moved)]
    audit_record(shop=shop, actor=actor, action="tiers.change", changes=changes)
    return LadderApplied(tiers=tiers, moved=moved, evaluation=evaluation)


@transaction.atomic
def tier_ladder_schedule(*, shop: Shop, ladder: list[dict], effective_on: date, actor: Actor) -> TierSchedule:
    """Save a ladder change to apply on `effective_on` (a date in the shop's time zone) by the daily task; a date
    of today or earlier applies it now. Audited as tiers.schedule. Raises InvalidLadder (nothing written)."""
    cleaned = tier_ladder_validate(ladder)
    schedule = TierSchedule.objects.create(
        shop=shop, ladder=ladder_as_json(cleaned), effective_on=effective_on, created_by=actor.label[:200]
    )
    audit_record(
        shop=shop, actor=actor, action="tiers.schedule", changes={"effective_on": ["", effective_on.isoformat()]}
    )
    if effective_on <= local_today(shop):
        tier_ladder_apply(shop=shop, ladder=cleaned, actor=actor)
        schedule.applied_at = timezone.now()
        schedule.save(update_fields=["applied_at"])
    return schedule


@transaction.atomic
def tier_schedules_apply_due(*, shop: Shop, today: date) -> list[TierSchedule]:
    """Apply the shop's scheduled ladder changes due by `today` (oldest date first), once each: a re-run finds
    them applied. Returns those applied now."""
    due = list(
        TierSchedule.objects.select_for_update()
        .filter(shop=shop, applied_at__isnull=True, effective_on__lte=today)
        .order_by("effective_on", "pk")
    )
    for schedule in due:
        actor = Actor(label=f"schedule #{schedule.pk} ({schedule.created_by})"[:200])
        tier_ladder_apply(shop=shop, ladder=schedule.ladder, actor=actor)
        schedule.applied_at = timezone.now()
        schedule.save(update_fields=["applied_at"])
    return due


@transaction.atomic
def tier_schedule_cancel(*, shop: Shop, schedule: TierSchedule, actor: Actor) -> None:
    """Drop a scheduled ladder change before it applies. Audited as tiers.schedule_cancel. Raises
    TierScheduleApplied when it has applied (the daily task locks the rows it applies, so the two never overlap),
    TierSchedule.DoesNotExist for another shop's."""
    locked = TierSchedule.objects.select_for_update().get(shop=shop, pk=schedule.pk)
    if locked.applied_at is not None:
        raise TierScheduleApplied(details={"schedule": locked.pk})
    audit_record(
        shop=shop,
        actor=actor,
        action="tiers.schedule_cancel",
        changes={"schedule": [str(locked.pk), ""], "effective_on": [locked.effective_on.isoformat(), ""]},
    )
    locked.delete()


def _ladder_tier(*, shop: Shop, tier: Tier) -> Tier:
    """`tier` as a tier of the shop's ladder: a tier of another shop, a retired or a deleted one are all unknown."""
    found = Tier.objects.filter(shop=shop, pk=tier.pk, rank__lt=RETIRED_RANK).first()
    if found is None:
        raise UnknownTier(details={"tier": tier.pk})
    return found


@transaction.atomic
def tier_assign(
    *, shop: Shop, member: Member, tier: Tier, until: datetime | None = None, note: str = "", actor: Actor
) -> Member:
    """Put a member on a tier by hand, until `until` (None: without end; rank 0 has none): the evaluation never
    lowers it before then, and still upgrades the member who qualifies for more. Recorded as a TierChange (reason
    manual) and audited as tier.assign; assigning what the member already has changes nothing.

    Raises UnknownTier (also for another shop's tier), InvalidTierAssignment (an end in the past, a long note),
    MemberErased, Member.DoesNotExist (another shop's member)."""
    tier = _ladder_tier(shop=shop, tier=tier)
    now = timezone.now()
    note = note.strip()
    if len(note) > 200:
        raise InvalidTierAssignment(_("The note has at most 200 characters."), details={"note": note[:50]})
    if until is not None and until <= now:
        raise InvalidTierAssignment(
            _("A manual assignment must end in the future."), details={"until": until.isoformat()}
        )
    locked = Member.objects.select_for_update().get(shop=shop, pk=member.pk)
    if locked.status == MemberStatus.ERASED:
        raise MemberErased(details={"member_id": locked.pk})
    new_tier, new_until = (None, None) if tier.rank == 0 else (tier, until)
    old_tier = Tier.objects.filter(shop=shop, pk=locked.tier_id).first() if locked.tier_id else None
    if old_tier is not None and old_tier.rank == 0:
        old_tier = None
    if (old_tier, locked.tier_until) == (new_tier, new_until):
        return locked
    member_tier_set(shop=shop, member_id=locked.pk, tier_id=new_tier.pk if new_tier else None, until=new_until, now=now)
    change = TierChange.objects.create(
        shop=shop,
        member=locked,
        from_tier=old_tier,
        to_tier=new_tier,
        reason=ChangeReason.MANUAL,
        note=note,
        actor=actor.label[:200],
        changed_at=now,
    )
    emit(
        shop_id=shop.pk,
        type=EventType.TIER_CHANGED,
        member_id=locked.pk,
        occurred_at=now,
        payload={
            "change_id": change.pk,
            "from_tier_id": change.from_tier_id,
            "to_tier_id": change.to_tier_id,
            "reason": change.reason,
        },
    )
    base = Tier.objects.filter(shop=shop, rank=0).first()
    audit_record(
        shop=shop,
        actor=actor,
        action="tier.assign",
        obj=locked,
        changes={
            "tier": [str(old_tier or base), str(new_tier or base)],
            "tier_until": [
                locked.tier_until.isoformat() if locked.tier_until else "",
                new_until.isoformat() if new_until else "",
            ],
            **({"note": ["", note]} if note else {}),
        },
    )
    locked.tier, locked.tier_until = new_tier, new_until
    return locked
