from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shops.errors import ApplicationError


class UnknownPlaceholder(ApplicationError):
    """The text names placeholders the product does not fill (details["placeholders"], as typed)."""

    code = "unknown_placeholder"

    def __init__(self, *, names: list[str]):
        message = gettext("These placeholders do not exist: %(names)s.")
        super().__init__(message % {"names": ", ".join("{" + n + "}" for n in names)}, details={"placeholders": names})


class UnbalancedBraces(ApplicationError):
    """A "{" without its "}" or the reverse (details["position"]: the offending brace, counted from 0)."""

    code = "unbalanced_braces"
    default_message = _('A "{" or "}" in the text has no partner: placeholders are written like {name}.')


class MissingSignature(ApplicationError):
    """An SMS is composed for a shop without a signature: carriers refuse SMS that do not name their sender."""

    code = "missing_signature"
    default_message = _("Set the shop's SMS signature before sending text messages.")
