from django.apps import AppConfig


class TiersConfig(AppConfig):
    name = "tiers"

    def ready(self):
        from members.tier_lookup import tier_lookup_register

        from . import selectors

        tier_lookup_register(selectors)
