from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from .extensions import NAVIGATION, SETTINGS_NAVIGATION, NavItem, register, register_audit_actions
from .roles import Perm

AUDIT_ACTIONS = {
    "shop.create": _("Shop created"),
    "shop.update": _("Settings changed"),
    "shop.freeze": _("Shop frozen"),
    "shop.unfreeze": _("Shop unfrozen"),
    "staff.invite": _("Staff invited"),
    "staff.invitation_cancel": _("Invitation cancelled"),
    "staff.join": _("Invitation accepted"),
    "staff.add": _("Staff added"),
    "staff.role_change": _("Role changed"),
    "staff.remove": _("Staff removed"),
    "apikey.create": _("API key created"),
    "apikey.revoke": _("API key revoked"),
}
OVERVIEW = NavItem(_("Overview"), "home")
SETTINGS = [
    NavItem(_("Shop settings"), "settings", Perm.SETTINGS_CHANGE),
    NavItem(_("Staff"), "staff", Perm.STAFF_MANAGE),
    NavItem(_("API keys"), "api_keys", Perm.APIKEYS_MANAGE),
    NavItem(_("Audit log"), "audit", Perm.AUDIT_VIEW),
]


class ShopsConfig(AppConfig):
    """Extension points (shops.extensions): audit labels and the dashboard's overview and settings entries."""

    name = "shops"
    verbose_name = _("Shops and staff")

    def ready(self):
        from . import checks  # noqa: F401  (registers the start-up check of the extension points)

        register_audit_actions(AUDIT_ACTIONS, app=self.label)
        register(NAVIGATION, OVERVIEW, app=self.label)
        for item in SETTINGS:
            register(SETTINGS_NAVIGATION, item, app=self.label)
