from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import NAVIGATION, NavItem, register
from shops.roles import Perm

ANALYTICS = NavItem(_("Analytics"), None, Perm.ANALYTICS_VIEW)  # no screens yet: shown as coming soon


class AnalyticsConfig(AppConfig):
    """Extension points (shops.extensions): the navigation entry."""

    name = "analytics"

    def ready(self):
        register(NAVIGATION, ANALYTICS, app=self.label)
