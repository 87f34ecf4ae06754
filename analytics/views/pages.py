"""The analytics area (SPEC 14): trends, sales and members here, points and coupons in analytics.views.ledgers,
each for a period with the period of the same length before it beside, charts (analytics.charts), tables exported
as CSV (`?format=csv&table=<name>`) and the definition of every figure under it. Everything is read from the
rollups (analytics.selectors, .trends, .breakdowns): a page costs a fixed number of queries, whatever the number of
orders. Perm.ANALYTICS_VIEW: analysts read figures; no page names a member or shows a phone number."""

import datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from shops.dashboard import ShopStaffMixin
from shops.roles import Perm
from shops.time import local_today

from .. import charts
from ..breakdowns import joins_by_channel, tier_distribution
from ..formatting import change, currency_symbol, format_money, format_number, format_percent
from ..selectors import summary
from ..trends import GRAINS, bucket_label, trend
from . import TABS
from .period import PRESETS, period_from
from .tables import Column, Table, csv_response

CENT = Decimal("0.01")
GRAIN_LABELS = {"day": _("By day"), "week": _("By week"), "month": _("By month")}
WEEKDAYS = (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))

# The definitions written under the figures (SPEC 14).
COUNTED = _(
    "Orders count on their payment day in the shop's time zone (%(tz)s); cancelled and fully refunded orders do "
    "not count, and sales are amounts less refunds, a late refund correcting the day of its order."
)
DEFINITIONS = {
    "sales": _("Amounts paid less refunds, of the orders that count."),
    "orders": _("Orders paid in the period, neither cancelled nor fully refunded."),
    "member_share": _("Members' sales over all sales."),
    "aov_member": _("Members' sales over members' orders."),
    "aov_non_member": _("Sales of orders without a member over their number."),
    "members_total": _("Members who had joined by the end of the period."),
    "new_members": _("Members who joined in the period (by their join day)."),
    "active_members": _("Members with at least one counted order in the period (or the bucket)."),
    "repeat_rate": _("Members with at least 2 counted orders in the period over members with at least 1."),
    "referrals": _("Members who joined through a referral in the period, and referrals rewarded in it."),
    "points_issued": _("Points earned and added by adjustments in the period."),
    "points_redeemed": _("Points spent in the period (points mall, points as cash)."),
    "points_expired": _("Points that reached their expiry in the period."),
    "points_outstanding": _("Points members held at the end of the period."),
    "liability": _("Outstanding points at the shop's points-as-cash value (%(rate)s points = %(unit)s)."),
    "no_rate": _("Set the points-as-cash rate in the points rules to value the points."),
    "breakage": _("Points expired over points expired plus redeemed, in the 12 months ending with the period."),
    "coupons_issued": _("Coupons given to members in the period."),
    "coupons_redeemed": _("Coupon uses in the period that were not reversed."),
    "redemption_rate": _("Coupons redeemed in the period over coupons issued in it."),
    "discount": _("Discounts of the coupon uses that stand."),
    "coupon_sales": _("Sales of counted orders paid with a coupon."),
}


def card(label, current, previous, kind: str, note, currency: str, spark=None) -> dict:
    show = {"num": format_number, "pct": format_percent, "money": lambda v: format_money(v, currency)}[kind]
    return {
        "label": label,
        "value": show(current),
        "previous": show(previous),
        "change": change(current, previous),
        "note": note,
        "spark": spark,
    }


class AnalyticsPage(ShopStaffMixin, TemplateView):
    permission = Perm.ANALYTICS_VIEW
    tab = ""

    def get(self, request, *args, **kwargs):
        self.period, error = period_from(request.GET, today=local_today(self.shop))
        if error:
            messages.error(request, error)
        if request.GET.get("format") == "csv":
            table = {t.name: t for t in self.build()["tables"]}.get(request.GET.get("table", ""))
            if table is None:
                raise Http404
            p = self.period
            return csv_response(table, f"{self.shop.slug}-{table.name}-{p.first}-{p.last}.csv")
        return super().get(request, *args, **kwargs)

    # --- helpers for the pages ---

    @property
    def currency(self) -> str:
        return self.shop.currency

    def money_axis(self, value) -> str:
        return currency_symbol(self.currency) + format_number(value)

    def labels(self, buckets) -> list[str]:
        return [bucket_label(b, self.period.grain) for b in buckets]

    def line(self, buckets, current, previous, label, fmt=format_number):
        return charts.line_chart(
            labels=self.labels(buckets),
            series=[
                charts.Series(str(_("Previous period")), previous, "previous"),
                charts.Series(str(_("This period")), current, "current"),
            ],
            label=str(label),
            fmt=fmt,
        )

    def build(self) -> dict:
        raise NotImplementedError

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        p = self.period
        keep = {"grain": p.grain, **({"range": p.preset} if p.preset else {"from": p.first, "to": p.last})}
        query = urlencode(keep)
        context.update(
            self.build(),
            tabs=TABS,
            tab=self.tab,
            period=p,
            previous=p.previous,
            presets=[(key, label, urlencode({"range": key})) for key, label in PRESETS.items()],
            grains=[(g, GRAIN_LABELS[g], urlencode({**keep, "grain": g})) for g in GRAINS],
            query=query,
            counted_note=COUNTED % {"tz": self.shop.time_zone},
        )
        for table in context["tables"]:
            table.cells = table.display(self.currency)
            table.csv_url = f"?{query}&{urlencode({'format': 'csv', 'table': table.name})}"
        return context


class TrendsView(AnalyticsPage):
    """Sales, orders, member share, new and active members by day, week or month, the previous period beside."""

    template_name = "analytics/trends.html"
    tab = "analytics"

    def build(self) -> dict:
        p = self.period
        data = trend(shop=self.shop, first=p.first, last=p.last, grain=p.grain)
        b, s = data["buckets"], data["series"]
        figures = [
            ("sales", _("Sales"), "money", self.money_axis),
            ("orders", _("Orders"), "num", format_number),
            ("member_share", _("Member share of sales"), "pct", lambda v: format_percent(v, places=0)),
            ("new_members", _("New members"), "num", format_number),
            ("active_members", _("Active members"), "num", format_number),
        ]
        chart_list = [
            {
                "key": key,
                "label": label,
                "note": DEFINITIONS[key],
                "svg": self.line(b, s[key]["current"], s[key]["previous"], label, fmt),
            }
            for key, label, _kind, fmt in figures
        ]
        table = Table(
            "trend",
            _("By period"),
            [Column(_("From"), "text"), Column(_("To"), "text")]
            + [Column(label, kind) for _key, label, kind, _fmt in figures]
            + [Column(_("Previous: %(figure)s") % {"figure": label}, kind) for _key, label, kind, _fmt in figures],
        )
        for i, bucket in enumerate(b):
            table.rows.append(
                [bucket.first.isoformat(), bucket.last.isoformat()]
                + [s[key]["current"][i] for key, *_rest in figures]
                + [s[key]["previous"][i] for key, *_rest in figures]
            )
        return {"charts": chart_list, "tables": [table]}


class SalesView(AnalyticsPage):
    template_name = "analytics/sales.html"
    tab = "analytics_sales"

    def build(self) -> dict:
        p, c = self.period, self.currency
        f = summary(shop=self.shop, first=p.first, last=p.last)
        prev = f["previous"]
        cards = [
            card(_("Sales"), f["sales"], prev["sales"], "money", DEFINITIONS["sales"], c),
            card(_("Orders"), f["orders"], prev["orders"], "num", DEFINITIONS["orders"], c),
            card(
                _("Member share of sales"),
                f["member_share_of_sales"],
                prev["member_share_of_sales"],
                "pct",
                DEFINITIONS["member_share"],
                c,
            ),
            card(
                _("Average order, members"), f["aov_member"], prev["aov_member"], "money", DEFINITIONS["aov_member"], c
            ),
            card(
                _("Average order, non-members"),
                f["aov_non_member"],
                prev["aov_non_member"],
                "money",
                DEFINITIONS["aov_non_member"],
                c,
            ),
            card(
                _("Sales with a coupon"),
                f["coupon_sales"],
                prev["coupon_sales"],
                "money",
                DEFINITIONS["coupon_sales"],
                c,
            ),
        ]
        split = Table(
            "sales",
            _("Members and non-members"),
            [
                Column(_("Buyers"), "text"),
                Column(_("Orders")),
                Column(_("Sales"), "money"),
                Column(_("Average order"), "money"),
                Column(_("Previous orders")),
                Column(_("Previous sales"), "money"),
            ],
            note=DEFINITIONS["aov_member"],
        )
        split.rows = [
            [
                _("Members"),
                f["member_orders"],
                f["member_sales"],
                f["aov_member"],
                prev["member_orders"],
                prev["member_sales"],
            ],
            [
                _("Non-members"),
                f["non_member_orders"],
                f["non_member_sales"],
                f["aov_non_member"],
                prev["non_member_orders"],
                prev["non_member_sales"],
            ],
            [
                _("All"),
                f["orders"],
                f["sales"],
                (f["sales"] / f["orders"]).quantize(CENT) if f["orders"] else None,
                prev["orders"],
                prev["sales"],
            ],
        ]
        data = trend(shop=self.shop, first=p.first, last=p.last, grain=p.grain)
        series = data["series"]
        member_sales = series["member_sales"]["current"]
        bars = charts.bar_chart(
            labels=self.labels(data["buckets"]),
            series=[
                charts.Series(str(_("Members")), member_sales, "s0"),
                charts.Series(
                    str(_("Non-members")),
                    [t - m for t, m in zip(series["sales"]["current"], member_sales, strict=True)],
                    "s1",
                ),
            ],
            label=str(_("Sales of members and non-members")),
            fmt=self.money_axis,
        )
        return {
            "cards": cards,
            "sales_line": self.line(
                data["buckets"], series["sales"]["current"], series["sales"]["previous"], _("Sales"), self.money_axis
            ),
            "split_bars": bars,
            "heat": self.calendar(),
            "tables": [split, self.daily_table()],
        }

    def daily(self):
        if not hasattr(self, "_daily"):
            p = self.period
            self._daily = trend(shop=self.shop, first=p.first, last=p.last, grain="day")
        return self._daily

    def calendar(self):
        """Sales per day as a heat map: weekdays down, ISO weeks across."""
        p = self.period
        daily = self.daily()
        start = p.first - datetime.timedelta(days=p.first.weekday())
        weeks = (p.last - start).days // 7 + 1
        grid = [[None] * weeks for _ in range(7)]
        for bucket, value in zip(daily["buckets"], daily["series"]["sales"]["current"], strict=True):
            offset = (bucket.first - start).days
            grid[offset % 7][offset // 7] = value
        columns = [
            f"{(start + datetime.timedelta(weeks=w)).month}/{(start + datetime.timedelta(weeks=w)).day}"
            for w in range(weeks)
        ]
        return charts.heat_map(
            rows=[str(d) for d in WEEKDAYS],
            columns=columns,
            values=grid,
            label=str(_("Sales by weekday")),
            fmt=format_number,
        )

    def daily_table(self) -> Table:
        daily = self.daily()
        s = daily["series"]
        table = Table(
            "sales_by_day",
            _("Sales by day"),
            [
                Column(_("Day"), "text"),
                Column(_("Orders")),
                Column(_("Sales"), "money"),
                Column(_("Member share of sales"), "pct"),
                Column(_("Active members")),
            ],
        )
        for i, bucket in enumerate(daily["buckets"]):
            table.rows.append(
                [
                    bucket.first.isoformat(),
                    s["orders"]["current"][i],
                    s["sales"]["current"][i],
                    s["member_share"]["current"][i],
                    s["active_members"]["current"][i],
                ]
            )
        return table


class MembersView(AnalyticsPage):
    template_name = "analytics/members.html"
    tab = "analytics_members"

    def build(self) -> dict:
        p, c = self.period, self.currency
        f = summary(shop=self.shop, first=p.first, last=p.last)
        prev = f["previous"]
        cards = [
            card(_("Members"), f["members_total"], prev["members_total"], "num", DEFINITIONS["members_total"], c),
            card(_("New members"), f["members_new"], prev["members_new"], "num", DEFINITIONS["new_members"], c),
            card(
                _("Active members"),
                f["members_active"],
                prev["members_active"],
                "num",
                DEFINITIONS["active_members"],
                c,
            ),
            card(
                _("Repeat purchase rate"),
                f["repeat_purchase_rate"],
                prev["repeat_purchase_rate"],
                "pct",
                DEFINITIONS["repeat_rate"],
                c,
            ),
            card(_("Referral joins"), f["referral_joins"], prev["referral_joins"], "num", DEFINITIONS["referrals"], c),
            card(
                _("Referrals rewarded"),
                f["referral_rewards"],
                prev["referral_rewards"],
                "num",
                DEFINITIONS["referrals"],
                c,
            ),
        ]
        channels = Table(
            "channels",
            _("Joins by channel"),
            [
                Column(_("Channel"), "text"),
                Column(_("Kind"), "text"),
                Column(_("Members joined")),
                Column(_("Visits")),
                Column(_("Unique visitors")),
                Column(_("Joins from visits")),
                Column(_("Conversion"), "pct"),
            ],
            note=_(
                "Members joined: by the channel they joined through (their join day). Visits, unique visitors and "
                "joins from visits: the channel's own counters; conversion = joins from visits / unique visitors."
            ),
        )
        for r in joins_by_channel(shop=self.shop, first=p.first, last=p.last):
            channels.rows.append(
                [
                    r["channel"] or _("No channel"),
                    r["kind"],
                    r["joins"],
                    r["visits"],
                    r["visitors"],
                    r["channel_joins"],
                    r["conversion"],
                ]
            )
        tiers = tier_distribution(shop=self.shop, first=p.first, last=p.last, grain=p.grain)
        labels = self.labels(tiers["buckets"])
        tier_table = Table(
            "tiers",
            _("Tier distribution"),
            [Column(_("Up to"), "text")]
            + [Column(name) for _pk, name in tiers["tiers"]]
            + [Column(_("Upgrades")), Column(_("Downgrades"))],
            note=_("Members in each tier at the end of each period; upgrades and downgrades within it."),
        )
        for i, bucket in enumerate(tiers["buckets"]):
            tier_table.rows.append(
                [bucket.last.isoformat()]
                + [tiers["members"][pk][i] for pk, _n in tiers["tiers"]]
                + [tiers["upgrades"][i], tiers["downgrades"][i]]
            )
        tier_bars = charts.bar_chart(
            labels=labels,
            series=[
                charts.Series(name, tiers["members"][pk], f"s{k % 6}") for k, (pk, name) in enumerate(tiers["tiers"])
            ],
            label=str(_("Tier distribution")),
            width=charts.WIDE,
        )
        data = trend(shop=self.shop, first=p.first, last=p.last, grain=p.grain)
        s = data["series"]
        return {
            "cards": cards,
            "joins_line": self.line(
                data["buckets"], s["new_members"]["current"], s["new_members"]["previous"], _("New members")
            ),
            "active_line": self.line(
                data["buckets"], s["active_members"]["current"], s["active_members"]["previous"], _("Active members")
            ),
            "tier_bars": tier_bars,
            "tier_keys": [(name, f"s{k % 6}") for k, (_pk, name) in enumerate(tiers["tiers"])],
            "tables": [channels, tier_table],
        }
