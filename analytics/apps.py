"""Analytics (SPEC 14): daily rollups per shop, the summary API and the program's figures."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import HOME_SECTION, MEMBER_FILTER_KEY, MEMBER_SCORES, NAVIGATION, NavItem, register
from shops.roles import Perm

ANALYTICS = NavItem(_("Analytics"), "analytics", Perm.ANALYTICS_VIEW)


class AnalyticsConfig(AppConfig):
    """Extension points (shops.extensions): the navigation entry, the overview's figures (HOME_SECTION), the member
    filter keys of RFM and of member intelligence (MEMBER_FILTER_KEY), the members' scores (MEMBER_SCORES); the
    rollups' consumer of domain events."""

    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self):
        from events.consumers import register_consumer

        from . import home
        from .clv.filters import churn_risk_condition, predicted_value_min_condition
        from .clv.selectors import clv_scores_of_members
        from .consumers import ROLLUPS
        from .rfm import rfm_cells_condition, rfm_groups_condition

        register(NAVIGATION, ANALYTICS, app=self.label)
        register(HOME_SECTION, home.section, app=self.label)
        register(MEMBER_FILTER_KEY, rfm_cells_condition, app=self.label, key="rfm")
        register(MEMBER_FILTER_KEY, rfm_groups_condition, app=self.label, key="rfm_groups")
        register(MEMBER_FILTER_KEY, churn_risk_condition, app=self.label, key="churn_risk")
        register(MEMBER_FILTER_KEY, predicted_value_min_condition, app=self.label, key="predicted_value_min")
        register(MEMBER_SCORES, clv_scores_of_members, app=self.label)
        register_consumer(ROLLUPS)
