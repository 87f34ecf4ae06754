from django.utils.translation import gettext_lazy as _

from members.errors import MemberErased, UnknownTier
from shops.errors import ApplicationError

__all__ = [
    "InvalidGrowth",
    "InvalidLadder",
    "InvalidTierAssignment",
    "MemberErased",
    "TierScheduleApplied",
    "UnknownTier",
]


class InvalidLadder(ApplicationError):
    code = "invalid_ladder"
    default_message = _("The tiers are not valid.")


class InvalidTierAssignment(ApplicationError):
    code = "invalid_tier_assignment"
    default_message = _("The tier cannot be assigned like this.")


class TierScheduleApplied(ApplicationError):
    code = "tier_schedule_applied"
    default_message = _("This tier change has already been applied; it can no longer be cancelled.")


class InvalidGrowth(ApplicationError):
    code = "invalid_growth"
    default_message = _("Growth value must be a whole number other than 0.")
