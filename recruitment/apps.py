from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import (
    DEMO_SEEDER,
    MEMBER_DATA,
    MEMBER_JOINED,
    NAVIGATION,
    ORDERS_CREATED,
    NavItem,
    register,
    register_audit_actions,
)
from shops.roles import Perm

AUDIT_ACTIONS = {
    "channel.create": _("Channel created"),
    "channel.update": _("Channel edited"),
    "channel.pause": _("Channel paused"),
    "channel.resume": _("Channel resumed"),
    "channel.gift_missed": _("Welcome coupon not given"),
    "referral_program.update": _("Referral rules changed"),
}
RECRUITMENT = NavItem(_("Recruitment"), "channels", Perm.RECRUITMENT_MANAGE)


class RecruitmentConfig(AppConfig):
    """Extension points (shops.extensions): what joining and a first purchase do here, the member data, a demo
    seeder, audit labels and the navigation entry."""

    name = "recruitment"
    verbose_name = _("Recruitment")

    def ready(self):
        from . import (
            checks,  # noqa: F401  (registers the start-up check of the poster font)
            join_effects,
            member_data,
        )
        from .demo import seed_recruitment

        register(MEMBER_JOINED, join_effects.member_joined, app=self.label)
        register(ORDERS_CREATED, join_effects.first_purchases, app=self.label)
        register(MEMBER_DATA, member_data, app=self.label)
        register(DEMO_SEEDER, seed_recruitment, app=self.label, order=50)
        register_audit_actions(AUDIT_ACTIONS, app=self.label)
        register(NAVIGATION, RECRUITMENT, app=self.label)
