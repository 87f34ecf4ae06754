from django.utils.translation import gettext_lazy as _

from shops.errors import ApplicationError, Conflict


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
