"""The delivery log is kept 30 days (SPEC 17): attempts older than that, and finished deliveries older than that,
are deleted shop by shop in short transactions (beat, daily)."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shops.models import Shop

from .models import Attempt, Delivery, DeliveryStatus

CHUNK = 5000


def prune_all_shops(*, now=None) -> int:
    """# tenant-ok: every shop, each in turn"""
    oldest = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_LOG_DAYS)
    deleted = 0
    for shop_id in Shop.objects.order_by("pk").values_list("pk", flat=True):
        for model, condition in (
            (Attempt, {"attempted_at__lt": oldest}),
            (Delivery, {"created_at__lt": oldest, "status__in": [DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED]}),
        ):
            while True:
                with transaction.atomic():
                    rows = model.objects.filter(shop_id=shop_id, **condition)
                    ids = list(rows.order_by("pk").values_list("pk", flat=True)[:CHUNK])
                    if not ids:
                        break
                    deleted += model.objects.filter(shop_id=shop_id, pk__in=ids).delete()[0]
    return deleted
