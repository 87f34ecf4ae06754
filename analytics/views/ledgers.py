"""The analytics area's ledgers (SPEC 14): points (issued, used, expired, outstanding, the liability and its IFRS 15
view, expiry months) and coupons, on the pages' frame (analytics.views.pages)."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .. import charts
from ..breakdowns import points_by_expiry_month, points_view
from ..formatting import format_money, format_number
from ..selectors import summary
from ..trends import coupon_trend, points_trend
from .pages import DEFINITIONS, AnalyticsPage, card
from .tables import Column, Table


class PointsView(AnalyticsPage):
    template_name = "analytics/points.html"
    tab = "analytics_points"

    def build(self) -> dict:
        p, c = self.period, self.currency
        now, before = (
            points_view(shop=self.shop, first=p.first, last=p.last),
            points_view(shop=self.shop, first=p.previous[0], last=p.previous[1]),
        )
        value = now["value"]
        liability_note = (
            DEFINITIONS["liability"] % {"rate": format_number(1 / value) if value else "–", "unit": format_money(1, c)}
            if value
            else DEFINITIONS["no_rate"]
        )
        cards = [
            card(_("Points issued"), now["issued"], before["issued"], "num", DEFINITIONS["points_issued"], c),
            card(_("Points redeemed"), now["redeemed"], before["redeemed"], "num", DEFINITIONS["points_redeemed"], c),
            card(_("Points expired"), now["expired"], before["expired"], "num", DEFINITIONS["points_expired"], c),
            card(
                _("Points outstanding"),
                now["outstanding"],
                before["outstanding"],
                "num",
                DEFINITIONS["points_outstanding"],
                c,
            ),
            card(_("Points liability"), now["liability"], before["liability"], "money", liability_note, c),
            card(_("Breakage rate"), now["breakage_rate"], before["breakage_rate"], "pct", DEFINITIONS["breakage"], c),
        ]
        flows = points_trend(shop=self.shop, first=p.first, last=p.last, grain=p.grain)
        names = {
            "issued": pgettext_lazy("points", "Issued"),
            "redeemed": pgettext_lazy("points", "Redeemed"),
            "expired": pgettext_lazy("points", "Expired"),
        }
        flow_chart = charts.line_chart(
            labels=self.labels(flows["buckets"]),
            series=[charts.Series(str(names[k]), flows["series"][k], f"s{i}") for i, k in enumerate(names)],
            label=str(_("Points issued, redeemed and expired")),
        )
        flow_table = Table(
            "points",
            _("Points by period"),
            [
                Column(_("From"), "text"),
                Column(_("To"), "text"),
                Column(_("Issued")),
                Column(_("Redeemed")),
                Column(_("Expired")),
            ],
        )
        for i, bucket in enumerate(flows["buckets"]):
            flow_table.rows.append(
                [bucket.first.isoformat(), bucket.last.isoformat()] + [flows["series"][k][i] for k in names]
            )
        expiry = points_by_expiry_month(shop=self.shop)
        expiry_table = Table(
            "expiry",
            _("Outstanding points by expiry month"),
            [Column(_("Expires in"), "text"), Column(_("Points")), Column(_("Value at the cash rate"), "money")],
            note=_("Open points by the month they expire, as of the last daily pass (%(day)s).")
            % {"day": expiry["taken_on"] or "–"},
        )
        for r in expiry["rows"]:
            month = r["month"].strftime("%Y-%m") if r["month"] else _("Never")
            expiry_table.rows.append([month, r["points"], r["value"]])
        expiry_bars = charts.bar_chart(
            labels=[row[0] for row in expiry_table.rows],
            series=[charts.Series(str(_("Points")), [row[1] for row in expiry_table.rows], "s0")],
            label=str(_("Outstanding points by expiry month")),
        )
        return {
            "cards": cards,
            "flow_chart": flow_chart,
            "flow_keys": [(names[k], f"s{i}") for i, k in enumerate(names)],
            "ifrs": now["ifrs"],
            "expiry_bars": expiry_bars if expiry["rows"] else None,
            "tables": [flow_table, expiry_table],
        }


class CouponsView(AnalyticsPage):
    template_name = "analytics/coupons.html"
    tab = "analytics_coupons"

    def build(self) -> dict:
        p, c = self.period, self.currency
        f = summary(shop=self.shop, first=p.first, last=p.last)
        prev = f["previous"]

        def rate(fig):
            return round(fig["coupons_redeemed"] / fig["coupons_issued"], 4) if fig["coupons_issued"] else None

        cards = [
            card(
                _("Coupons issued"),
                f["coupons_issued"],
                prev["coupons_issued"],
                "num",
                DEFINITIONS["coupons_issued"],
                c,
            ),
            card(
                _("Coupons redeemed"),
                f["coupons_redeemed"],
                prev["coupons_redeemed"],
                "num",
                DEFINITIONS["coupons_redeemed"],
                c,
            ),
            card(_("Redemption rate"), rate(f), rate(prev), "pct", DEFINITIONS["redemption_rate"], c),
            card(
                _("Discount given"), f["coupon_discount"], prev["coupon_discount"], "money", DEFINITIONS["discount"], c
            ),
            card(
                _("Orders with a coupon"),
                f["coupon_orders"],
                prev["coupon_orders"],
                "num",
                DEFINITIONS["coupon_sales"],
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
        data = coupon_trend(shop=self.shop, first=p.first, last=p.last, grain=p.grain)
        s = data["series"]
        chart = charts.line_chart(
            labels=self.labels(data["buckets"]),
            series=[
                charts.Series(str(_("Issued")), s["issued"]["current"], "s0"),
                charts.Series(str(_("Redeemed")), s["redeemed"]["current"], "s1"),
            ],
            label=str(_("Coupons issued and redeemed")),
            width=charts.WIDE,
        )
        table = Table(
            "coupons",
            _("Coupons by period"),
            [
                Column(_("From"), "text"),
                Column(_("To"), "text"),
                Column(_("Issued")),
                Column(_("Redeemed")),
                Column(_("Previous: issued")),
                Column(_("Previous: redeemed")),
            ],
        )
        for i, bucket in enumerate(data["buckets"]):
            table.rows.append(
                [
                    bucket.first.isoformat(),
                    bucket.last.isoformat(),
                    s["issued"]["current"][i],
                    s["redeemed"]["current"][i],
                    s["issued"]["previous"][i],
                    s["redeemed"]["previous"][i],
                ]
            )
        return {"cards": cards, "chart": chart, "keys": [(_("Issued"), "s0"), (_("Redeemed"), "s1")], "tables": [table]}
