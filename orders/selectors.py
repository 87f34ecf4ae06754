from django.db.models import QuerySet

from shops.models import Shop

from .models import Order


def order_get_by_external_id(*, shop: Shop, external_id: str) -> Order:
    """Raises Order.DoesNotExist for a missing or another shop's order alike."""
    return Order.objects.get(shop=shop, external_id=external_id)


def order_list(*, shop: Shop) -> QuerySet[Order]:
    return Order.objects.filter(shop=shop).select_related("member").order_by("-paid_at", "-pk")
