"""Analytics (SPEC 14): daily rollups per shop, the summary API and the program's figures."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import HOME_SECTION, NAVIGATION, NavItem, register
from shops.roles import Perm

ANALYTICS = NavItem(_("Analytics"), "analytics", Perm.ANALYTICS_VIEW)


class AnalyticsConfig(AppConfig):
    """Extension points (shops.extensions): the navigation entry, the overview's figures (HOME_SECTION); the
    rollups' consumer of domain events."""

    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self):
        from events.consumers import register_consumer

        from . import home
        from .consumers import ROLLUPS

        register(NAVIGATION, ANALYTICS, app=self.label)
        register(HOME_SECTION, home.section, app=self.label)
        register_consumer(ROLLUPS)
