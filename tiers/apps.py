from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import (
    MEMBER_DATA,
    NAVIGATION,
    SHOP_DEFAULTS,
    TIER_LOOKUP,
    NavItem,
    register,
    register_audit_actions,
)
from shops.roles import Perm

AUDIT_ACTIONS = {
    "tiers.change": _("Tier rules changed"),
    "tiers.schedule": _("Tier rules change scheduled"),
    "tiers.schedule_cancel": _("Scheduled tier rules change cancelled"),
    "tier.assign": _("Tier assigned"),
}
# Every role may read the tiers (tiers.views.TiersView); changing them needs RULES_CHANGE.
TIERS = NavItem(_("Tiers"), "tiers", Perm.MEMBERS_VIEW)


class TiersConfig(AppConfig):
    """Extension points (shops.extensions): a new shop's default ladder, the member data, audit labels and the
    navigation entry."""

    name = "tiers"

    def ready(self):
        from . import defaults, member_data, selectors

        register(SHOP_DEFAULTS, defaults.create_defaults, app=self.label)
        register(MEMBER_DATA, member_data, app=self.label)
        register(TIER_LOOKUP, selectors, app=self.label)
        register_audit_actions(AUDIT_ACTIONS, app=self.label)
        register(NAVIGATION, TIERS, app=self.label)
