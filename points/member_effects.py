"""What a member's profile does to points (extension point PROFILE_SAVED): a profile that becomes complete earns the
profile-completion task reward, once per member whatever is edited later. Bulk imports of members do not call it:
their profiles were filled in by the shop's old system, not by the shopper doing the task."""

from members.models import Member
from shops.models import Shop

from .task_rewards import Task, task_reward


def profile_saved(*, shop: Shop, member: Member) -> None:
    if member.profile_complete:
        task_reward(shop=shop, member=member, task=Task.PROFILE_COMPLETION)
