from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import DEMO_SEEDER, IMPORT_HANDLER, MEMBER_DATA, NAVIGATION, NavItem, register
from shops.roles import Perm

ORDERS = NavItem(_("Orders"), "orders", Perm.ORDERS_VIEW)


class OrdersConfig(AppConfig):
    """Extension points (shops.extensions): the member data, the orders import, the navigation entry, a demo
    seeder."""

    name = "orders"

    def ready(self):
        from members.models import ImportKind

        from . import member_data
        from .demo import seed_orders
        from .imports import ORDER_IMPORT

        register(MEMBER_DATA, member_data, app=self.label)
        register(IMPORT_HANDLER, ORDER_IMPORT, app=self.label, key=ImportKind.ORDERS)
        register(NAVIGATION, ORDERS, app=self.label)
        register(DEMO_SEEDER, seed_orders, app=self.label, order=20)
