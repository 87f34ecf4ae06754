from django.utils.translation import gettext_lazy as _

from shops.errors import ApplicationError, Conflict


class InvalidOrder(ApplicationError):
    code = "invalid_order"
    default_message = _("The order is not valid.")


class UnknownMember(ApplicationError):
    code = "unknown_member"
    default_message = _("No member with this id in your shop.")


class OrderConflict(Conflict):
    code = "order_conflict"
    default_message = _("An order with this external id was already recorded with different content.")


class RefundConflict(Conflict):
    code = "refund_conflict"
    default_message = _("A refund with this external id was already recorded with different content.")


class RefundExceedsOrder(ApplicationError):
    code = "refund_exceeds_order"
    default_message = _("The refund is larger than what is left to refund on this order.")


class InvalidStatusChange(Conflict):
    code = "invalid_status_change"
    default_message = _("The order cannot change to this status.")
