"""Task rewards (SPEC 6): points and growth value for what a member does besides buying. Each task is paid once
per occurrence, by an idempotency key built from the task and the occurrence (none for the profile, which is paid
once per member; a date for a daily check-in, a review's id), so a retried call pays nothing twice.

Profile completion is paid from the shop's rules today; check-in, review and share are the hooks later issues call
when they bring the feature and its settings (until then their amounts are zero and a call pays nothing)."""

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.models import Member, MemberStatus
from shops.models import Shop
from tiers.growth import growth_post
from tiers.models import GrowthKind

from .errors import IdempotencyConflict
from .models import PointsProgram
from .selectors import points_program_of
from .services import points_earn


class Task(models.TextChoices):
    PROFILE_COMPLETION = "profile_completion", gettext_lazy("Completed profile")
    CHECK_IN = "check_in", gettext_lazy("Check-in")
    REVIEW = "review", gettext_lazy("Review")
    SHARE = "share", gettext_lazy("Share")


def _amounts(program: PointsProgram, task: str) -> tuple[int, int]:
    """(points, growth value) the shop pays for the task."""
    if task == Task.PROFILE_COMPLETION:
        return program.profile_completion_points, program.profile_completion_growth
    return 0, 0


def task_key(task: str, occurrence: str = "") -> str:
    # "#" keeps system keys apart from API clients' keys, which may not contain it.
    return f"task#{task}#{occurrence}" if occurrence else f"task#{task}"


@transaction.atomic
def task_reward(*, shop: Shop, member: Member, task: str, occurrence: str = "") -> tuple[int, int]:
    """Pay the member for doing `task` (a Task) once per occurrence. Returns the (points, growth value) paid now:
    (0, 0) for a replay, an erased member or a task the shop does not reward."""
    task = Task(task)
    points, growth = _amounts(points_program_of(shop=shop), task)
    if member.status == MemberStatus.ERASED or not (points or growth):
        return 0, 0
    key = task_key(task, occurrence)
    reason = _("Task reward: %(task)s") % {"task": task.label}
    now = timezone.now()
    try:
        paid_points = (
            points
            and points_earn(
                shop=shop, member=member, points=points, idempotency_key=key, reason=reason, now=now
            ).created
        )
    except IdempotencyConflict:  # paid before, when the shop paid another amount for the task
        paid_points = False
    paid_growth = growth and growth_post(
        shop=shop, member=member, value=growth, idempotency_key=key, kind=GrowthKind.TASK, reason=reason, now=now
    )
    return (points if paid_points else 0), (growth if paid_growth else 0)
