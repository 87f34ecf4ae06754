"""Dashboard pages of analytics (SPEC 14). TABS is the analytics area's shared sub-navigation
(templates/analytics/_tabs.html): each page of the area adds its entry here, (url name, label), in the order shown;
every entry needs Perm.ANALYTICS_VIEW like the area itself."""

from django.utils.translation import gettext_lazy as _

TABS: list[tuple[str, object]] = [
    ("analytics", _("Trends")),
    ("analytics_sales", _("Sales")),
    ("analytics_members", _("Members")),
    ("analytics_points", _("Points")),
    ("analytics_coupons", _("Coupons")),
]
