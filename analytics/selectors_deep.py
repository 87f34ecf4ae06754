"""Reads of the deeper views (SPEC 14) for the pages, from their small tables (analytics.models: CohortCell, RfmCell,
ItemPair, DeepState): a few hundred rows at most, whatever the shop's size."""

import datetime

from shops.models import Shop
from shops.time import local_today

from .cohorts import first_cohort
from .models import CohortCell, DeepState, ItemPair, PairKind
from .pairs import min_support

HEAT_STEPS = 8  # heat classes heat-1..heat-8; heat-0 is nothing


def heat(value: float, top: float) -> int:
    """The heat class of `value` on a scale whose darkest step is `top` (and above)."""
    if not value or not top:
        return 0
    return max(1, min(HEAT_STEPS, round(value / top * HEAT_STEPS)))


def percent(share: float) -> str:
    """A share as the page shows it: whole percents, one decimal under 10%."""
    value = share * 100
    return f"{value:.1f}%" if 0 < value < 10 else f"{value:.0f}%"


def deep_state(*, shop: Shop) -> DeepState | None:
    return DeepState.objects.filter(shop=shop).first()


def _months_between(first: datetime.date, last: datetime.date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def cohort_triangle(*, shop: Shop, months: int, now: datetime.datetime | None = None) -> dict:
    """The last `months` join cohorts, oldest first: each with its size and, for every month since joining up to
    this one, (members who ordered, their share, heat class). Shares are coloured against the highest share after
    the joining month (month 0 is nearly always the highest and would pale the rest)."""
    today = local_today(shop, now)
    this_month = today.replace(day=1)
    first = max(first_cohort(shop=shop, today=today), _shift(this_month, -(months - 1)))
    cells = {}
    sizes = {}
    for c in CohortCell.objects.filter(shop=shop, cohort_month__gte=first).values(
        "cohort_month", "months_since", "members", "ordered"
    ):
        cells[(c["cohort_month"], c["months_since"])] = c["ordered"]
        sizes[c["cohort_month"]] = c["members"]
    rows, top = [], 0.0
    for month in sorted(sizes):
        size = sizes[month]
        row = {"month": month, "members": size, "cells": []}
        for since in range(_months_between(month, this_month) + 1):
            ordered = cells.get((month, since), 0)
            share = ordered / size if size else 0.0
            if since:
                top = max(top, share)
            row["cells"].append({"since": since, "ordered": ordered, "share": share, "label": percent(share)})
        rows.append(row)
    for row in rows:
        for cell in row["cells"]:
            cell["heat"] = heat(cell["share"], top)
    width = max((len(r["cells"]) for r in rows), default=0)
    for row in rows:
        row["blanks"] = range(width - len(row["cells"]))
    return {"rows": rows, "columns": list(range(width))}


def _shift(month: datetime.date, by: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + by
    return datetime.date(index // 12, index % 12 + 1, 1)


SORTS = {"lift": ("-lift", "-baskets", "a", "b"), "support": ("-baskets", "-lift", "a", "b")}


def item_pairs(*, shop: Shop, kind: str, sort: str = "lift", limit: int = 50) -> dict:
    """The kind's pairs (category or sku), by lift or by support, with the baskets and the minimum support."""
    kind = kind if kind in PairKind.values else PairKind.CATEGORY
    state = deep_state(shop=shop)
    baskets = 0
    if state is not None:
        baskets = state.category_baskets if kind == PairKind.CATEGORY else state.sku_baskets
    pairs = list(ItemPair.objects.filter(shop=shop, kind=kind).order_by(*SORTS.get(sort, SORTS["lift"]))[:limit])
    for pair in pairs:
        pair.shares = {name: percent(getattr(pair, name)) for name in ("support", "confidence_ab", "confidence_ba")}
    return {"kind": kind, "pairs": pairs, "baskets": baskets, "min_baskets": min_support(baskets) if baskets else None}
