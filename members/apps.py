from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import DEMO_SEEDER, NAVIGATION, NavItem, register, register_audit_actions
from shops.roles import Perm

AUDIT_ACTIONS = {
    "member.update": _("Member edited"),
    "member.freeze": _("Member frozen"),
    "member.unfreeze": _("Member unfrozen"),
    "member.erase": _("Member data erased"),
    "member.phone_view": _("Phone number shown"),
    "member.data_export": _("Member data exported"),
    "member.export": _("Member list exported"),
    "import.create": _("File imported"),
    "tag.create": _("Tag created"),
    "tag.add": _("Tag added to members"),
    "tag.remove": _("Tag removed from members"),
    "segment.save": _("Segment saved"),
    "segment.delete": _("Segment deleted"),
}
MEMBERS = NavItem(_("Members"), "members", Perm.MEMBERS_VIEW)


class MembersConfig(AppConfig):
    """Extension points (shops.extensions): audit labels, the navigation entry and two demo seeders."""

    name = "members"

    def ready(self):
        from .demo import seed_members, seed_tags

        register_audit_actions(AUDIT_ACTIONS, app=self.label)
        register(NAVIGATION, MEMBERS, app=self.label)
        register(DEMO_SEEDER, seed_members, app=self.label, order=10)
        register(DEMO_SEEDER, seed_tags, app=self.label, order=30)  # rule tags read the order figures
