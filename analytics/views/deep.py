"""Dashboard pages of the deeper views (SPEC 14): the cohort triangle, the RFM grid and groups, items bought together,
each read from its small nightly table, each with a CSV export of its table (?format=csv). A cell or a group of RFM
becomes a segment, or a campaign's audience, in one click (RfmSegmentView).

Reading needs Perm.ANALYTICS_VIEW; making a segment Perm.MEMBERS_CHANGE, and a campaign Perm.CAMPAIGNS_MANAGE too."""

import csv
import io

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from members.filters import InvalidFilter
from shops.dashboard import ShopStaffMixin
from shops.roles import Perm

from ..models import PairKind, RfmGroup
from ..rfm import CELL, HIGH, SCORES, cell_definition, group_definition, rfm_grid, rfm_segment
from ..selectors_deep import cohort_triangle, deep_state, heat, item_pairs

# What each group is, as the page explains it: (R high, F high, M high).
GROUP_RULES = {
    RfmGroup.IMPORTANT_VALUE: (True, True, True),
    RfmGroup.IMPORTANT_DEVELOP: (True, False, True),
    RfmGroup.IMPORTANT_KEEP: (False, True, True),
    RfmGroup.IMPORTANT_WIN_BACK: (False, False, True),
    RfmGroup.ORDINARY_VALUE: (True, True, False),
    RfmGroup.ORDINARY_DEVELOP: (True, False, False),
    RfmGroup.ORDINARY_KEEP: (False, True, False),
    RfmGroup.ORDINARY_WIN_BACK: (False, False, False),
}


def csv_response(filename: str, header: list, rows) -> HttpResponse:
    out = io.StringIO()
    out.write("\ufeff")  # a BOM, so that Excel reads UTF-8
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


SECTIONS = (
    ("cohorts", gettext_lazy("Cohorts"), "analytics_cohorts"),
    ("rfm", gettext_lazy("RFM"), "analytics_rfm"),
    ("pairs", gettext_lazy("Bought together"), "analytics_pairs"),
    ("clv", gettext_lazy("Churn and value"), "analytics_clv"),
)


class DeepViewMixin(ShopStaffMixin):
    permission = Perm.ANALYTICS_VIEW
    section = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(section=self.section, sections=SECTIONS, state=deep_state(shop=self.shop))
        return context

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "csv":
            return self.csv()
        return super().get(request, *args, **kwargs)


class CohortsView(DeepViewMixin, TemplateView):
    template_name = "analytics/cohorts.html"
    section = "cohorts"

    def months(self) -> int:
        return 24 if self.request.GET.get("months") == "24" else 12

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(triangle=cohort_triangle(shop=self.shop, months=self.months()), months=self.months())
        return context

    def csv(self):
        triangle = cohort_triangle(shop=self.shop, months=24)
        rows = (
            [row["month"].strftime("%Y-%m"), row["members"], c["since"], c["ordered"], f"{c['share']:.4f}"]
            for row in triangle["rows"]
            for c in row["cells"]
        )
        return csv_response(
            f"cohorts-{self.shop.slug}.csv", ["cohort", "members", "months_since", "ordered", "share"], rows
        )


class RfmView(DeepViewMixin, TemplateView):
    template_name = "analytics/rfm.html"
    section = "rfm"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        figures = rfm_grid(shop=self.shop)
        top = max((c["share"] for c in figures["grid"].values()), default=0)
        rows = []
        for r in reversed(SCORES):
            cells = []
            for f in SCORES:
                cell = figures["grid"][(r, f)]
                cells.append({**cell, "code": f"R{r}F{f}", "heat": heat(cell["share"], top)})
            rows.append({"r": r, "cells": cells})
        selected = None
        if (match := CELL.match(self.request.GET.get("cell", ""))) and match.group(3) is None:
            r, f = int(match.group(1)), int(match.group(2))
            selected = {**figures["grid"][(r, f)], "code": f"R{r}F{f}", "by_m": figures["grid"][(r, f)]["by_m"]}
        groups = [
            {**g, "label": RfmGroup(g["group"]).label, "rule": GROUP_RULES[RfmGroup(g["group"])]}
            for g in figures["groups"]
        ]
        context.update(
            total=figures["total"],
            rows=rows,
            scores=list(SCORES),
            selected=selected,
            groups=groups,
            high=HIGH,
            can_segment=Perm.MEMBERS_CHANGE in self.perms,
            can_campaign=Perm.MEMBERS_CHANGE in self.perms and Perm.CAMPAIGNS_MANAGE in self.perms,
        )
        return context

    def csv(self):
        figures = rfm_grid(shop=self.shop)
        rows = [
            [f"R{c['r']}F{c['f']}", c["r"], c["f"], c["members"], f"{c['share']:.4f}", c["spend"], *c["by_m"]]
            for c in figures["grid"].values()
        ]
        rows += [[g["group"], "", "", g["members"], f"{g['share']:.4f}", g["spend"], "", "", "", "", ""]
                 for g in figures["groups"]]  # fmt: skip
        header = ["cell_or_group", "r", "f", "members", "share", "spend", "m1", "m2", "m3", "m4", "m5"]
        return csv_response(f"rfm-{self.shop.slug}.csv", header, rows)


class PairsView(DeepViewMixin, TemplateView):
    template_name = "analytics/pairs.html"
    section = "pairs"

    def pairs(self, limit: int = 50) -> dict:
        get = self.request.GET
        return item_pairs(shop=self.shop, kind=get.get("kind", "category"), sort=get.get("sort", "lift"), limit=limit)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        pairs = self.pairs()
        context.update(pairs, kinds=PairKind.choices, sort=self.request.GET.get("sort", "lift"))
        return context

    def csv(self):
        found = self.pairs(limit=500)
        rows = [
            [p.a, p.b, p.baskets, p.a_baskets, p.b_baskets, f"{p.support:.6f}", f"{p.confidence_ab:.4f}",
             f"{p.confidence_ba:.4f}", f"{p.lift:.4f}"]
            for p in found["pairs"]
        ]  # fmt: skip
        header = ["a", "b", "baskets", "a_baskets", "b_baskets", "support", "confidence_a_b", "confidence_b_a", "lift"]
        return csv_response(f"pairs-{found['kind']}-{self.shop.slug}.csv", header, rows)


class RfmSegmentView(ShopStaffMixin, View):
    """POST cell=R5F4 or group=important_value, then=segment|campaign: the segment of that cell or group (reused
    when one has the same definition), then the segments list or the campaign editor with it chosen."""

    permission = Perm.MEMBERS_CHANGE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        then = request.POST.get("then", "segment")
        if then == "campaign" and Perm.CAMPAIGNS_MANAGE not in self.perms:
            raise PermissionDenied
        cell, group = request.POST.get("cell", ""), request.POST.get("group", "")
        if (match := CELL.match(cell)) and match.group(3) is None:
            r, f = int(match.group(1)), int(match.group(2))
            definition, name = cell_definition(r=r, f=f), _("RFM R%(r)s F%(f)s") % {"r": r, "f": f}
        elif group in RfmGroup.values:
            definition, name = group_definition(group=group), _("RFM · %(group)s") % {"group": RfmGroup(group).label}
        else:
            raise Http404
        try:
            segment = rfm_segment(shop=self.shop, actor=self.actor, definition=definition, name=name)
        except InvalidFilter as exc:
            messages.error(request, exc.message)
            return redirect("dashboard:analytics_rfm", self.shop.slug)
        if then == "campaign":
            return redirect(reverse("dashboard:campaign_create", args=[self.shop.slug]) + f"?segment={segment.pk}")
        messages.success(
            request,
            _("Segment %(name)s is ready: %(count)s members.") % {"name": segment.name, "count": segment.last_count},
        )
        return redirect("dashboard:segments", self.shop.slug)
