"""The dashboard's navigation: every area of the product, in order. An area whose screens are not built yet has
no URL and is shown as coming soon; each app's issue fills in its own entry."""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .roles import Perm


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str | None  # in the "dashboard" namespace, taking shop_slug
    permission: str | None = None


NAVIGATION = [
    NavItem(_("Overview"), "home"),
    NavItem(_("Members"), "members", Perm.MEMBERS_VIEW),
    NavItem(_("Orders"), "orders", Perm.ORDERS_VIEW),
    # Every role may read the tiers (tiers.views.TiersView); changing them needs RULES_CHANGE.
    NavItem(_("Tiers"), "tiers", Perm.MEMBERS_VIEW),
    NavItem(_("Points"), "points_rules", Perm.RULES_CHANGE),
    NavItem(_("Coupons"), "coupon_templates", Perm.COUPONS_REDEEM),
    NavItem(_("Recruitment"), "channels", Perm.RECRUITMENT_MANAGE),
    NavItem(_("Campaigns"), None, Perm.CAMPAIGNS_MANAGE),
    NavItem(_("Analytics"), None, Perm.ANALYTICS_VIEW),
]

SETTINGS_NAVIGATION = [
    NavItem(_("Shop settings"), "settings", Perm.SETTINGS_CHANGE),
    NavItem(_("Staff"), "staff", Perm.STAFF_MANAGE),
    NavItem(_("API keys"), "api_keys", Perm.APIKEYS_MANAGE),
    NavItem(_("Audit log"), "audit", Perm.AUDIT_VIEW),
]
