"""Staff roles and what each may do. Pure data: views and services ask `role_allows(role, permission)`."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MARKETER = "marketer", _("Marketer")
    ANALYST = "analyst", _("Analyst")
    CLERK = "clerk", _("Clerk")


class Perm(models.TextChoices):
    SETTINGS_CHANGE = "settings.change", _("Change shop settings")
    STAFF_MANAGE = "staff.manage", _("Invite staff and change roles")
    APIKEYS_MANAGE = "apikeys.manage", _("Create and revoke API keys")
    AUDIT_VIEW = "audit.view", _("Read the audit log")
    MEMBERS_VIEW = "members.view", _("Look up members")
    MEMBERS_PHONE = "members.phone", _("See full phone numbers")
    MEMBERS_CHANGE = "members.change", _("Edit, tag and freeze members")
    MEMBERS_EXPORT = "members.export", _("Export and import members")
    ORDERS_VIEW = "orders.view", _("See orders")
    RULES_CHANGE = "rules.change", _("Change points, tier and coupon rules")
    POINTS_ADJUST = "points.adjust", _("Adjust points")
    COUPONS_REDEEM = "coupons.redeem", _("Look up and redeem coupons")
    COUPONS_GRANT = "coupons.grant", _("Grant coupons")
    RECRUITMENT_MANAGE = "recruitment.manage", _("Manage entry points and referrals")
    CAMPAIGNS_MANAGE = "campaigns.manage", _("Create and send campaigns")
    ANALYTICS_VIEW = "analytics.view", _("Read analytics")
    WEBHOOKS_MANAGE = "webhooks.manage", _("Manage webhook endpoints")


_EVERYTHING = frozenset(Perm)
_MARKETING = frozenset(
    {
        Perm.MEMBERS_VIEW,
        Perm.MEMBERS_CHANGE,
        Perm.ORDERS_VIEW,
        Perm.RULES_CHANGE,
        Perm.POINTS_ADJUST,
        Perm.COUPONS_REDEEM,
        Perm.COUPONS_GRANT,
        Perm.RECRUITMENT_MANAGE,
        Perm.CAMPAIGNS_MANAGE,
        Perm.ANALYTICS_VIEW,
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: _EVERYTHING,
    # An admin runs the shop day to day; only owners make or remove owners (enforced in staff services).
    Role.ADMIN: _EVERYTHING,
    Role.MARKETER: _MARKETING | {Perm.MEMBERS_PHONE},
    # Analysts read figures: no full phone numbers, no rule changes.
    Role.ANALYST: frozenset({Perm.MEMBERS_VIEW, Perm.ORDERS_VIEW, Perm.ANALYTICS_VIEW}),
    # Clerks serve shoppers at the counter: look up members and redeem coupons, nothing else.
    Role.CLERK: frozenset({Perm.MEMBERS_VIEW, Perm.COUPONS_REDEEM}),
}


def role_allows(role: str, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
