"""Campaigns (SPEC 12): messages to members over SMS, push and the in-app inbox."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import (
    DEMO_SEEDER,
    MEMBER_DATA,
    NAVIGATION,
    SETTINGS_NAVIGATION,
    NavItem,
    register,
    register_audit_actions,
)
from shops.roles import Perm

AUDIT_ACTIONS = {
    "campaign.create": _("Campaign created"),
    "campaign.update": _("Campaign edited"),
    "campaign.send": _("Campaign sent"),
    "campaign.pause": _("Campaign paused"),
    "campaign.resume": _("Campaign resumed"),
    "campaign.cancel": _("Campaign cancelled"),
    "campaign.test_send": _("Campaign test sent"),
    "messaging_settings.update": _("Messaging settings changed"),
}
# Analysts read campaigns and their reports (Perm.ANALYTICS_VIEW); marketers, who also hold it, write and send.
CAMPAIGNS = NavItem(_("Campaigns"), "campaigns", Perm.ANALYTICS_VIEW)
MESSAGING_SETTINGS = NavItem(_("Messaging"), "messaging_settings", Perm.CAMPAIGNS_MANAGE)


class CampaignsConfig(AppConfig):
    """Extension points (shops.extensions): the navigation entries, audit labels and the member data (messages in
    the profile timeline)."""

    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        register(NAVIGATION, CAMPAIGNS, app=self.label)
        register(SETTINGS_NAVIGATION, MESSAGING_SETTINGS, app=self.label)
        register_audit_actions(AUDIT_ACTIONS, app=self.label)
        from .demo import seed_campaigns

        register(DEMO_SEEDER, seed_campaigns, app=self.label, order=60)
        from . import member_data

        register(MEMBER_DATA, member_data, app=self.label)
