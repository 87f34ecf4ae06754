from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import (
    DEMO_SEEDER,
    MEMBER_DATA,
    NAVIGATION,
    ORDER_STATUS_CHANGED,
    REFUND_CREATED,
    NavItem,
    register,
    register_audit_actions,
)
from shops.roles import Perm

AUDIT_ACTIONS = {
    "coupon_template.create": _("Coupon template created"),
    "coupon_template.update": _("Coupon template edited"),
    "coupon_template.status": _("Coupon template status changed"),
    "coupon_codes.generate": _("Coupon codes generated"),
    "coupon_codes.import": _("Coupon codes imported"),
    "coupon.grant": _("Coupon given to a member"),
    "coupon_grant.create": _("Coupon grant to a segment started"),
    "tier_gift.add": _("Tier gift added"),
    "tier_gift.remove": _("Tier gift removed"),
    "mall_gift.create": _("Mall gift created"),
    "mall_gift.update": _("Mall gift edited"),
    # coupons.mall._move writes mall_exchange.<the exchange's new status>
    "mall_exchange.shipped": _("Mall exchange shipped"),
    "mall_exchange.delivered": _("Mall exchange delivered"),
    "mall_exchange.cancelled": _("Mall exchange cancelled"),
}
COUPONS = NavItem(_("Coupons"), "coupon_templates", Perm.COUPONS_REDEEM)


class CouponsConfig(AppConfig):
    """Extension points (shops.extensions): coupons given back on a full refund or a cancellation, the member data,
    a demo seeder, audit labels and the navigation entry. Consumer of domain events (events.consumers): the upgrade
    gifts of tier.changed."""

    name = "coupons"

    def ready(self):
        from events.consumers import Consumer, register_consumer
        from events.types import EventType

        from . import member_data, redemption
        from .demo import seed_coupons
        from .tier_gifts import tier_gifts_on_tier_changed

        register(REFUND_CREATED, redemption.order_refunded, app=self.label)
        register(ORDER_STATUS_CHANGED, redemption.order_status_changed, app=self.label)
        register(MEMBER_DATA, member_data, app=self.label)
        register(DEMO_SEEDER, seed_coupons, app=self.label, order=40)
        register_audit_actions(AUDIT_ACTIONS, app=self.label)
        register(NAVIGATION, COUPONS, app=self.label)
        register_consumer(
            Consumer("coupons.tier_gifts", handle=tier_gifts_on_tier_changed, types=frozenset({EventType.TIER_CHANGED}))
        )
