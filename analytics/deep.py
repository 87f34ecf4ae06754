"""The nightly computation of the deeper views (SPEC 14): cohorts, RFM and items bought together, each replacing the
shop's rows of its small table in one transaction. Run once per shop-local day, after the daily rollup pass (the
cohorts read the members' days it writes), and by analytics_backfill."""

import datetime

from django.utils import timezone

from shops.models import Shop
from shops.time import local_date, local_today

from .cohorts import cohorts_compute
from .models import DeepState
from .pairs import pairs_compute
from .rfm import rfm_compute


def deep_views_compute(*, shop: Shop, now: datetime.datetime | None = None) -> dict[str, int]:
    """Recompute the three views now. Returns what each wrote (cohort cells, members scored, baskets)."""
    now = now or timezone.now()
    baskets = pairs_compute(shop=shop, now=now)
    return {
        "cohort_cells": cohorts_compute(shop=shop, now=now),
        "rfm_members": rfm_compute(shop=shop, now=now),
        **{f"{kind}_baskets": n for kind, n in baskets.items()},
    }


def deep_views_due(*, shop: Shop, now: datetime.datetime | None = None) -> bool:
    """Whether the views have not been computed yet on the shop's current day."""
    state = DeepState.objects.filter(shop=shop).values_list("cohorts_at", "rfm_at", "pairs_at").first()
    if state is None or None in state:
        return True
    return min(local_date(shop, at) for at in state) < local_today(shop, now)


def deep_views_pass(*, shop: Shop, now: datetime.datetime | None = None) -> bool:
    """The nightly step: compute the views when they are due. Returns whether it did."""
    if not deep_views_due(shop=shop, now=now):
        return False
    deep_views_compute(shop=shop, now=now)
    return True
