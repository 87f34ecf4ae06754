from django.apps import AppConfig


class CouponsConfig(AppConfig):
    name = "coupons"

    def ready(self) -> None:
        from events.consumers import Consumer, register_consumer
        from events.types import EventType

        from .tier_gifts import tier_gifts_on_tier_changed

        register_consumer(
            Consumer("coupons.tier_gifts", handle=tier_gifts_on_tier_changed, types=frozenset({EventType.TIER_CHANGED}))
        )
