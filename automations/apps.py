"""Automations (SPEC 13): lifecycle journeys, standing campaigns started by a trigger for one member at a time."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import MEMBER_DATA, NAVIGATION, SHOP_DEFAULTS, NavItem, register, register_audit_actions
from shops.roles import Perm

AUDIT_ACTIONS = {
    "automation.switch": _("Automation switched on or off"),
    "automation.update": _("Automation edited"),
}
AUTOMATIONS = NavItem(_("Automations"), "automations", Perm.ANALYTICS_VIEW)


class AutomationsConfig(AppConfig):
    """Extension points (shops.extensions): the default automations of a new shop, the navigation entry, audit
    labels and the member data (journeys in the profile timeline); the triggers' consumer of domain events."""

    name = "automations"
    verbose_name = _("Automations")

    def ready(self):
        from events.consumers import register_consumer

        from . import defaults, member_data
        from .triggers import TRIGGERS

        register(SHOP_DEFAULTS, defaults.create_defaults, app=self.label)
        register(NAVIGATION, AUTOMATIONS, app=self.label)
        register(MEMBER_DATA, member_data, app=self.label)
        register_audit_actions(AUDIT_ACTIONS, app=self.label)
        register_consumer(TRIGGERS)
