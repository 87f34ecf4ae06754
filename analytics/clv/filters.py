"""Member filter keys of member intelligence (registered in analytics.apps through shops.extensions
MEMBER_FILTER_KEY), resolved through the nightly scores (analytics.models.MemberClv): members never scored (no
counted order, or a shop below the minimum-data rule) match none of them.

    churn_risk            ["high", "medium", ...]  in one of these churn-risk bands
    predicted_value_min   an amount: predicted 12-month value at least this"""

from decimal import Decimal, InvalidOperation

from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from members.filters import InvalidFilter
from shops.models import Shop

from ..models import ChurnRisk, MemberClv


def churn_risk_condition(*, shop: Shop, value) -> Q:
    """`churn_risk`: members in any of these bands (ChurnRisk values). Raises InvalidFilter."""
    bands = [value] if isinstance(value, str) else value
    if not isinstance(bands, list | tuple) or not all(isinstance(v, str) for v in bands):
        raise InvalidFilter(
            _("%(key)s must be a list of codes.") % {"key": "churn_risk"}, details={"churn_risk": value}
        )
    unknown = sorted(set(bands) - set(ChurnRisk.values))
    if unknown:
        raise InvalidFilter(_("Unknown churn risk: %(code)s") % {"code": ", ".join(unknown)})
    if connection.vendor != "postgresql":
        return Q(Exists(MemberClv.objects.filter(shop=shop, member=OuterRef("pk"), churn_risk__in=bands)))
    # Written as IN (... OFFSET 0) so that PostgreSQL computes the band's members once (a hashed subplan, from the
    # (shop, churn_risk) index) instead of probing the scores once per member in the list's order: the newest
    # members, first in the list, are rarely at high risk, and the probing walked 240,000 of them for a page at
    # 1M members (700 ms, docs/benchmarks.md issue 21).
    placeholders = ", ".join(["%s"] * len(bands))
    sql = "SELECT member_id FROM analytics_memberclv WHERE shop_id = %s AND churn_risk IN ({}) OFFSET 0"
    sql = sql.format(placeholders)
    return Q(pk__in=RawSQL(sql, [shop.pk, *bands]))  # noqa: S611 - placeholders only, the values are parameters


def predicted_value_min_condition(*, shop: Shop, value) -> Q:
    """`predicted_value_min`: members whose predicted value is at least this amount. Raises InvalidFilter."""
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool | dict | list) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or abs(amount) >= Decimal("1e12"):
        raise InvalidFilter(
            _("%(key)s must be an amount.") % {"key": "predicted_value_min"}, details={"predicted_value_min": value}
        )
    return Q(Exists(MemberClv.objects.filter(shop=shop, member=OuterRef("pk"), predicted_value__gte=amount)))
