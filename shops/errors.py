"""Domain errors. The API renders them as {"code", "message", "details"}; the dashboard shows the message."""

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    status = 400
    code = "invalid"
    default_message = _("The request could not be completed.")

    def __init__(self, message=None, *, code: str | None = None, details: dict | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.details = details or {}
        super().__init__(str(self.message))


class Conflict(ApplicationError):
    status = 409
    code = "conflict"
    default_message = _("The request conflicts with the current state.")


class Forbidden(ApplicationError):
    status = 403
    code = "permission_denied"
    default_message = _("You do not have permission to do this.")
