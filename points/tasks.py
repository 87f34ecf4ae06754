"""Periodic points work, one task per shop (a large shop does not hold back the others): the release of pending
points, expiry, the expiry reminders and the reconciliation of cached balances. Every per-shop task is idempotent
(an award is released once, a lot expires once, reminders carry dedup keys, reconciliation only reads), hence
acks_late with reject_on_worker_lost."""

import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from shops.tasks import fan_out_per_shop
from shops.tenancy import task_shop_scope

from .expiry import points_expire, points_expiry_reminders
from .order_effects import points_pending_release
from .selectors import points_reconcile_batches

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def points_release_shop(shop_id: int) -> int:
    """Credit the shop's pending points whose return window has passed. Returns the number of awards released."""
    with task_shop_scope(shop_id) as shop:
        return points_pending_release(shop=shop, now=timezone.now())


@shared_task
def points_release_all_shops() -> int:
    """Hourly: pending points become available within the hour their window ends."""
    return fan_out_per_shop(points_release_shop)


# A deadlock with a writer outside the services' lock order, or a lost connection, is worth a few retries.
@shared_task(
    acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), max_retries=3, retry_backoff=60
)
def points_expire_shop(shop_id: int) -> int:
    """Expire the shop's due lots. Returns the number of lots expired."""
    with task_shop_scope(shop_id) as shop:
        return points_expire(shop=shop)


@shared_task
def points_expire_all_shops() -> int:
    """Nightly, just after local midnight: one expiry task per active shop."""
    return fan_out_per_shop(points_expire_shop)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def points_expiry_reminders_shop(shop_id: int) -> int:
    """Pass the shop's members with points about to expire to the reminder handlers. Returns their number."""
    with task_shop_scope(shop_id) as shop:
        return points_expiry_reminders(shop=shop)


@shared_task
def points_expiry_reminders_all_shops() -> int:
    """Daily, in the morning: one reminder task per active shop."""
    return fan_out_per_shop(points_expiry_reminders_shop)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def points_reconcile_shop(shop_id: int) -> dict:
    """Check every points account of the shop (cached balance = sum of entries = sum of open lots), in batches of
    members. Logs an error per drifted member (ids and figures only, no personal data) and returns
    {"shop_id", "members", "drifted"}."""
    checked = drifted = 0
    with task_shop_scope(shop_id) as shop:
        for members, rows in points_reconcile_batches(shop=shop):
            checked += members
            drifted += len(rows)
            for row in rows:
                logger.error(
                    "points drift: shop %s member %s cached %s ledger %s lots %s",
                    shop_id,
                    row["member_id"],
                    row["cached"],
                    row["ledger"],
                    row["lots"],
                )
    summary = {"shop_id": shop_id, "members": checked, "drifted": drifted}
    logger.log(logging.ERROR if drifted else logging.INFO, "points reconciliation: %s", summary)
    return summary


@shared_task
def points_reconcile_all_shops() -> int:
    """Nightly, after the expiry: one reconciliation task per active shop (each returns and logs its summary)."""
    return fan_out_per_shop(points_reconcile_shop)
