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

from ..models import ChurnRisk, ClvState, MemberClv

PROBE_ABOVE = 100_000  # band members above which the list probes the scores per member


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
    members = sum(
        (ClvState.objects.filter(shop=shop).values_list("bands", flat=True).first() or {}).get(b, 0) for b in bands
    )
    if connection.vendor != "postgresql" or members > PROBE_ABOVE:
        # A large band is dense in any order of the list: probing the scores per listed member finds a page soon.
        return Q(Exists(MemberClv.objects.filter(shop=shop, member=OuterRef("pk"), churn_risk__in=bands)))
    # A small band is fetched whole and its members read by primary key, then sorted: probed in the list's order
    # instead, the newest members first (rarely at high risk), a page walked 240,000 members at 1M (700 ms,
    # docs/benchmarks.md issue 21). unnest(ARRAY(...)) is what makes PostgreSQL plan it so (it expects few rows).
    placeholders = ", ".join(["%s"] * len(bands))
    sql = "SELECT unnest(ARRAY(SELECT member_id FROM analytics_memberclv WHERE shop_id = %s AND churn_risk IN ({})))"
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
