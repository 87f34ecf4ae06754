from django.utils.translation import gettext_lazy as _

from shops.errors import ApplicationError, Conflict


class InvalidTemplate(ApplicationError):
    code = "invalid_template"
    default_message = _("The coupon template is not valid.")


class NotIssuable(Conflict):
    """The template is paused or ended, its claim window is shut, or the member is outside its audience."""

    code = "not_issuable"
    default_message = _("This coupon cannot be issued now.")


class OutOfStock(Conflict):
    code = "out_of_stock"
    default_message = _("This coupon has run out.")


class LimitReached(Conflict):
    code = "limit_reached"
    default_message = _("The member already holds as many of this coupon as allowed.")


class AlreadyRedeemed(Conflict):
    code = "already_redeemed"
    default_message = _("This coupon has already been used.")


class CouponNotUsable(Conflict):
    """Redemption refused for a reason validation also gives (details["reason"])."""

    code = "coupon_not_usable"
    default_message = _("This coupon cannot be used on this order.")


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_message = _("This idempotency key was already used for a different request.")


class InvalidCodes(ApplicationError):
    code = "invalid_codes"
    default_message = _("Some codes are not valid.")
