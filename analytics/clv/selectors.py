"""Reads of member intelligence: the scores of given members (shops.extensions MEMBER_SCORES), the page's figures."""

from django.db.models import Count
from django.utils.translation import gettext as _

from shops.models import Shop

from ..models import ChurnRisk, ClvState, MemberClv


def _why(row: dict) -> str:
    """Why the member has this band, in words: last purchase, usual rhythm, P(alive)."""
    if row["frequency"] == 0:
        return _(
            "One purchase day so far, %(days)s days ago; a one-time buyer's risk is read from the shop's usual rhythm."
        ) % {"days": row["age_days"]}
    rhythm = row["recency_days"] / row["frequency"]
    since = row["age_days"] - row["recency_days"]
    return _(
        "Last purchase %(since)s days ago; usually buys every %(rhythm)s days (%(n)s purchase days); "
        "probability still active %(p)s%%."
    ) % {"since": since, "rhythm": f"{rhythm:.0f}", "n": row["frequency"] + 1, "p": f"{row['p_alive'] * 100:.0f}"}


def clv_scores_of_members(*, shop: Shop, member_ids: list[int]) -> dict[int, dict]:
    """MEMBER_SCORES: the members' scores, one query."""
    rows = MemberClv.objects.filter(shop=shop, member_id__in=member_ids).values(
        "member_id", "churn_risk", "p_alive", "predicted_value", "expected_orders_90d", "frequency", "recency_days",
        "age_days",
    )  # fmt: skip
    labels = dict(ChurnRisk.choices)
    return {
        row["member_id"]: {
            "churn_risk": row["churn_risk"],
            "churn_risk_label": labels[row["churn_risk"]],
            "p_alive": row["p_alive"],
            "predicted_value": row["predicted_value"],
            "expected_orders_90d": row["expected_orders_90d"],
            "why": _why(row),
        }
        for row in rows
    }


def clv_state(*, shop: Shop) -> ClvState | None:
    return ClvState.objects.filter(shop=shop).first()


def clv_bands(*, shop: Shop) -> dict[str, int]:
    """Members per churn-risk band."""
    counts = dict(MemberClv.objects.filter(shop=shop).values_list("churn_risk").annotate(n=Count("pk")).order_by())
    return {band: counts.get(band, 0) for band in ChurnRisk.values}


def clv_top_members(*, shop: Shop, limit: int = 20) -> list[dict]:
    """The members of highest predicted value (the (shop, -predicted_value) index), with their scores."""
    return list(
        MemberClv.objects.filter(shop=shop)
        .order_by("-predicted_value", "member_id")
        .values("member_id", "predicted_value", "p_alive", "churn_risk", "expected_orders_90d")[:limit]
    )
