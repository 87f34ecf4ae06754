from django.utils.translation import gettext_lazy as _

from shops.errors import ApplicationError, Conflict


class InvalidPoints(ApplicationError):
    code = "invalid_points"
    default_message = _("Points must be a whole number above zero.")


class InsufficientPoints(Conflict):
    code = "insufficient_points"
    default_message = _("The member does not have enough points.")


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_message = _("This idempotency key was already used for a different points operation.")
