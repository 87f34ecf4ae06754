from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import NAVIGATION, NavItem, register
from shops.roles import Perm

CAMPAIGNS = NavItem(_("Campaigns"), None, Perm.CAMPAIGNS_MANAGE)  # no screens yet: shown as coming soon


class CampaignsConfig(AppConfig):
    """Extension points (shops.extensions): the navigation entry."""

    name = "campaigns"

    def ready(self):
        register(NAVIGATION, CAMPAIGNS, app=self.label)
