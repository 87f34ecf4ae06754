from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shops.errors import ApplicationError, Conflict

from .models import MAX_BALANCE


class InvalidPhoneError(ApplicationError):
    code = "invalid_phone"
    default_message = _("This is not a valid phone number.")


class ExternalIdTaken(Conflict):
    code = "external_id_taken"
    default_message = _("Another member already has this platform buyer id.")


class PhoneTaken(Conflict):
    code = "phone_taken"
    default_message = _("Another member already has this phone number.")


class MemberErased(Conflict):
    code = "member_erased"
    default_message = _("This member's data has been erased.")


class UnknownTag(ApplicationError):
    code = "unknown_tag"
    default_message = _("No tag with this id or name in your shop.")


class UnknownTier(ApplicationError):
    code = "unknown_tier"
    default_message = _("No tier with this id or name in your shop.")


class BalanceLimit(Conflict):
    """A write would take a member's points, pending points or growth value above MAX_BALANCE (members.models)."""

    code = "balance_limit"

    def __init__(self, *, details: dict | None = None):
        message = gettext("This would take the member's balance above %(max)s, the most a member can hold.")
        super().__init__(message % {"max": f"{MAX_BALANCE:,}"}, details={"limit": MAX_BALANCE, **(details or {})})


class ImportFileError(ApplicationError):
    """An import's file as a whole cannot be imported; nothing was written."""

    code = "import_file_invalid"
