from django.utils.translation import gettext_lazy as _

from shops.errors import ApplicationError


class InvalidChannel(ApplicationError):
    code = "invalid_channel"
    default_message = _("The channel is not valid.")


class RateLimited(ApplicationError):
    """Too many one-time codes, attempts or joins from one phone or address: answered 429."""

    status = 429
    code = "rate_limited"
    default_message = _("Too many attempts. Please wait a while and try again.")


class CodeRejected(ApplicationError):
    """A wrong, expired or already used one-time code: one message for all, so a guess learns nothing more."""

    code = "code_rejected"
    default_message = _("The code is wrong or has expired. Request a new one if needed.")


class FontMissing(ApplicationError):
    """No CJK font file was found, so Chinese text would render as empty boxes (recruitment.render)."""

    status = 503
    code = "font_missing"
    default_message = _("Posters cannot be drawn: no Chinese font is installed on the server.")
