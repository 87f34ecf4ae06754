from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import (
    MEMBER_DATA,
    NAVIGATION,
    ORDER_PAGE_SECTION,
    ORDER_POINTS_AWARD,
    ORDER_STATUS_CHANGED,
    PROFILE_SAVED,
    REFUND_CREATED,
    SHOP_DEFAULTS,
    NavItem,
    register,
    register_audit_actions,
)
from shops.roles import Perm

AUDIT_ACTIONS = {
    "points.adjust": _("Points adjusted"),
    "points.rules": _("Points rules changed"),
    "points.bonus_rule": _("Bonus rule saved"),
    "points.bonus_rule_delete": _("Bonus rule deleted"),
}
POINTS = NavItem(_("Points"), "points_rules", Perm.RULES_CHANGE)


class PointsConfig(AppConfig):
    """Extension points (shops.extensions): what orders earn and give back, the profile-completion reward, a new
    shop's default rules, the member data, the order page's points section, audit labels and the navigation entry."""

    name = "points"

    def ready(self):
        from . import defaults, member_data, member_effects, order_effects, order_page

        register(ORDER_POINTS_AWARD, order_effects, app=self.label)
        register(REFUND_CREATED, order_effects.refund_created, app=self.label)
        register(ORDER_STATUS_CHANGED, order_effects.order_status_changed, app=self.label)
        register(PROFILE_SAVED, member_effects.profile_saved, app=self.label)
        register(SHOP_DEFAULTS, defaults.create_defaults, app=self.label)
        register(MEMBER_DATA, member_data, app=self.label)
        register(ORDER_PAGE_SECTION, order_page.section, app=self.label)
        register_audit_actions(AUDIT_ACTIONS, app=self.label)
        register(NAVIGATION, POINTS, app=self.label)
