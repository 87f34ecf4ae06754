"""The member intelligence page (SPEC 15), beside the deeper views: the fitted parameters in plain words, the
churn-risk bands with their thresholds, the holdout check as a chart, the members of highest predicted value, and,
below the minimum-data rule, why there are no scores and when there will be. A band becomes a segment or a
campaign's audience in one click (ClvSegmentView). Reading needs Perm.ANALYTICS_VIEW; a segment Perm.MEMBERS_CHANGE,
a campaign Perm.CAMPAIGNS_MANAGE too."""

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from members.filters import InvalidFilter
from shops.dashboard import ShopStaffMixin
from shops.roles import Perm

from .. import charts
from ..clv import scores
from ..clv.selectors import clv_bands, clv_state, clv_top_members
from ..models import ChurnRisk, ClvStatus
from ..rfm import rfm_segment
from .deep import DeepViewMixin


def _plain_words(state) -> list[str]:
    """The parameters as a merchant reads them."""
    bg, gg, unit = state.bgnbd, state.gamma_gamma, scores.UNIT_DAYS[state.time_unit]
    rate_days = bg["alpha"] / bg["r"] * unit  # the mean purchase rate is r / alpha per time unit
    dropout = bg["a"] / (bg["a"] + bg["b"])
    mean_spend = gg["p"] * gg["gamma"] / (gg["q"] - 1) if gg["q"] > 1 else None
    words = [
        _("While active, a typical member buys about once every %(days)s days (BG/NBD r = %(r)s, alpha = %(alpha)s).")
        % {"days": f"{rate_days:.0f}", "r": f"{bg['r']:.3f}", "alpha": f"{bg['alpha']:.3f}"},
        _("After each purchase, a member stops buying for good with a probability of %(p)s%% on average "
          "(a = %(a)s, b = %(b)s).") % {"p": f"{dropout * 100:.1f}", "a": f"{bg['a']:.3f}", "b": f"{bg['b']:.3f}"},
    ]  # fmt: skip
    if mean_spend is not None:
        words.append(
            _("An order is worth %(spend)s on average across members; each member's own average is trusted more the "
              "more orders it rests on (Gamma-Gamma p = %(p)s, q = %(q)s, gamma = %(g)s).")
            % {"spend": f"{mean_spend:.2f}", "p": f"{gg['p']:.3f}", "q": f"{gg['q']:.3f}", "g": f"{gg['gamma']:.3f}"}
        )  # fmt: skip
    return words


class ClvView(DeepViewMixin, TemplateView):
    template_name = "analytics/clv.html"
    section = "clv"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        state = clv_state(shop=self.shop)
        context.update(
            clv=state,
            fitted=state is not None and state.status == ClvStatus.FITTED,
            min_members=scores.MIN_MEMBERS,
            min_days=scores.MIN_HISTORY_DAYS,
            thresholds={"high": scores.HIGH_BELOW, "medium": scores.MEDIUM_BELOW},
            rhythm={"medium": scores.RHYTHM_MEDIUM, "high": scores.RHYTHM_HIGH},
            horizon=scores.HORIZON_DAYS,
            can_segment=Perm.MEMBERS_CHANGE in self.perms,
            can_campaign=Perm.MEMBERS_CHANGE in self.perms and Perm.CAMPAIGNS_MANAGE in self.perms,
        )
        if state is not None and state.status == ClvStatus.INSUFFICIENT:
            context["missing_members"] = max(scores.MIN_MEMBERS - state.members_with_orders, 0)
            missing_days = max(scores.MIN_HISTORY_DAYS - state.history_days, 0)
            context["missing_days"] = missing_days
            if missing_days and state.history_days:
                context["enough_on"] = state.computed_at.date() + datetime.timedelta(days=missing_days)
        if context["fitted"]:
            bands = clv_bands(shop=self.shop)
            buckets = state.holdout.get("buckets", [])
            context.update(
                words=_plain_words(state),
                bands=[{"band": b, "label": label, "members": bands[b]} for b, label in ChurnRisk.choices],
                discount_percent=float(state.discount_rate) * 100,
                top=[{**m, "label": ChurnRisk(m["churn_risk"]).label} for m in clv_top_members(shop=self.shop)],
                holdout=state.holdout,
                rhythm_days=state.holdout.get("rhythm_days"),
                chart=charts.line_chart(
                    labels=[b["bucket"] for b in buckets],
                    series=[
                        charts.Series(_("Actual"), [b["actual"] for b in buckets], "current"),
                        charts.Series(_("Predicted"), [b["predicted"] for b in buckets], "previous"),
                    ],
                    label=_("Repeat purchase days per member in the holdout period, by purchases before it"),
                    fmt=lambda v: f"{float(v):.2f}",
                ),
            )
        return context

    def csv(self):
        from .deep import csv_response

        state = clv_state(shop=self.shop)
        buckets = state.holdout.get("buckets", []) if state else []
        rows = [[b["bucket"], b["members"], f"{b['predicted']:.4f}", f"{b['actual']:.4f}"] for b in buckets]
        return csv_response(f"clv-holdout-{self.shop.slug}.csv", ["bucket", "members", "predicted", "actual"], rows)


class ClvSegmentView(ShopStaffMixin, View):
    """POST band=high|medium|low, then=segment|campaign: the segment of the members in that churn-risk band."""

    permission = Perm.MEMBERS_CHANGE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        then = request.POST.get("then", "segment")
        if then == "campaign" and Perm.CAMPAIGNS_MANAGE not in self.perms:
            raise PermissionDenied
        band = request.POST.get("band", "")
        if band not in ChurnRisk.values:
            messages.error(request, _("Choose a churn-risk band."))
            return redirect("dashboard:analytics_clv", self.shop.slug)
        name = _("Churn risk: %(band)s") % {"band": ChurnRisk(band).label}
        try:
            segment = rfm_segment(shop=self.shop, actor=self.actor, definition={"churn_risk": [band]}, name=name)
        except InvalidFilter as exc:
            messages.error(request, exc.message)
            return redirect("dashboard:analytics_clv", self.shop.slug)
        if then == "campaign":
            return redirect(reverse("dashboard:campaign_create", args=[self.shop.slug]) + f"?segment={segment.pk}")
        messages.success(
            request,
            _("Segment %(name)s is ready: %(count)s members.") % {"name": segment.name, "count": segment.last_count},
        )
        return redirect("dashboard:segments", self.shop.slug)
