"""Webhooks and the events API (SPEC 17): merchants' endpoints get the domain events, signed per Standard Webhooks."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from shops.extensions import HOME_SECTION, SETTINGS_NAVIGATION, NavItem, register, register_audit_actions
from shops.roles import Perm

AUDIT_ACTIONS = {
    "webhook.create": _("Webhook endpoint added"),
    "webhook.delete": _("Webhook endpoint deleted"),
    "webhook.rotate": _("Webhook secret rotated"),
    "webhook.enable": _("Webhook endpoint turned back on"),
    "webhook.retry": _("Webhook delivery retried"),
    "webhook.replay": _("Webhook deliveries replayed"),
}
WEBHOOKS = NavItem(_("Webhooks"), "webhooks", Perm.WEBHOOKS_MANAGE)


class WebhooksConfig(AppConfig):
    """Extension points (shops.extensions): the settings navigation entry, audit labels and the overview's notice of
    endpoints turned off (HOME_SECTION); the consumer of domain events that turns them into deliveries."""

    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self):
        from events.consumers import register_consumer

        from . import home
        from .consumers import WEBHOOKS as CONSUMER

        register(SETTINGS_NAVIGATION, WEBHOOKS, app=self.label)
        register(HOME_SECTION, home.section, app=self.label)
        register_audit_actions(AUDIT_ACTIONS, app=self.label)
        register_consumer(CONSUMER)
