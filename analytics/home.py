"""The overview's figures (extension point HOME_SECTION, shown on the dashboard home, 概况): the last 30 days
against the 30 before, with sparklines, the points liability, the latest campaigns' results and links into each
analytics page. Only for Perm.ANALYTICS_VIEW: a clerk's home shows their links and no figure."""

import datetime

from django.utils.translation import gettext as _

from shops.models import Shop
from shops.roles import Perm
from shops.time import local_today

from . import charts
from .breakdowns import latest_campaign_results
from .formatting import change, format_money, format_number, format_percent
from .selectors import summary
from .trends import trend
from .views import TABS

DAYS = 30
TEMPLATE = "analytics/_home.html"


def section(*, shop: Shop, perms: frozenset[str]) -> dict | None:
    if Perm.ANALYTICS_VIEW not in perms:
        return None
    last = local_today(shop) - datetime.timedelta(days=1)
    first = last - datetime.timedelta(days=DAYS - 1)
    f = summary(shop=shop, first=first, last=last)
    prev = f["previous"]
    series = trend(shop=shop, first=first, last=last, grain="day")["series"]
    money = lambda v: format_money(v, shop.currency)  # noqa: E731

    def figure(label, key, show, spark_key=None, note=""):
        spark = None
        if spark_key:
            s = series[spark_key]
            spark = charts.sparkline(values=s["current"], previous=s["previous"], label=label)
        return {
            "label": label,
            "value": show(f[key]),
            "previous": show(prev[key]),
            "change": change(f[key], prev[key]),
            "spark": spark,
            "note": note,
        }

    figures = [
        figure(_("Sales"), "sales", money, "sales"),
        figure(_("Orders"), "orders", format_number, "orders"),
        figure(_("New members"), "members_new", format_number, "new_members"),
        figure(_("Active members"), "members_active", format_number, "active_members"),
        figure(_("Member share of sales"), "member_share_of_sales", format_percent, "member_share"),
        figure(_("Repeat purchase rate"), "repeat_purchase_rate", format_percent),
        figure(_("Coupons redeemed"), "coupons_redeemed", format_number),
        figure(
            _("Points liability"),
            "points_liability",
            money,
            note=_("Outstanding points at the points-as-cash value.")
            if f["points_liability"] is not None
            else _("Set the points-as-cash rate in the points rules to value the points."),
        ),
    ]
    return {
        "template": TEMPLATE,
        "stylesheet": "analytics/analytics.css",
        "context": {
            "first": first,
            "last": last,
            "figures": figures,
            "points_outstanding": f["points_outstanding"],
            "campaigns": latest_campaign_results(shop=shop) if Perm.ANALYTICS_VIEW in perms else [],
            "tabs": TABS,
        },
    }
