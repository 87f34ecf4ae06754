"""Dashboard pages of campaigns (SPEC 12): the list with each campaign's figures, the editor with its SMS counter,
placeholders, preview and live count (static/campaigns/editor.js, which asks CampaignPreviewView), and a campaign's
page: its lifecycle buttons, the funnel, the uplift against the holdout, the cost and a test send.

Reading needs Perm.ANALYTICS_VIEW (analysts read results), writing and sending Perm.CAMPAIGNS_MANAGE."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views import View
from django.views.generic import FormView, TemplateView

from members.segments import segment_list
from shops.dashboard import ServiceActionView, ShopStaffMixin
from shops.errors import ApplicationError
from shops.ids import parse_id
from shops.models import Shop
from shops.roles import Perm
from shops.views import FormServiceMixin

from ..audience import InvalidAudience, audience_preview
from ..errors import UnbalancedBraces, UnknownPlaceholder
from ..forms import AudienceForm, AudienceKind, CampaignForm, TestSendForm, needs_saved_choice
from ..links import InvalidLink
from ..models import Campaign, CampaignStatus, Reason
from ..reports import campaign_report
from ..selectors import campaign_get, campaigns_with_figures, messaging_settings_get
from ..services import (
    EDITABLE,
    CampaignState,
    campaign_cancel,
    campaign_create,
    campaign_pause,
    campaign_resume,
    campaign_send,
    campaign_test_send,
    campaign_update,
)
from .editor import editor_context

PAGE_SIZE = 25
READ, MANAGE = Perm.ANALYTICS_VIEW, Perm.CAMPAIGNS_MANAGE


def campaign_url(shop: Shop, campaign: Campaign) -> str:
    return reverse("dashboard:campaign", args=[shop.slug, campaign.pk])


# --- The list ---------------------------------------------------------------------------------------------------


class CampaignListView(ShopStaffMixin, TemplateView):
    permission = READ
    template_name = "campaigns/campaign_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = Paginator(campaigns_with_figures(shop=self.shop), PAGE_SIZE).get_page(self.request.GET.get("page"))
        rows = []
        for campaign in page.object_list:
            converted = None
            if campaign.started_at is not None:  # started: the report counts the treated members who ordered
                converted = campaign_report(shop=self.shop, campaign=campaign)["counts"].get("converted")
            rows.append((campaign, converted))
        base = reverse("dashboard:campaigns", args=[self.shop.slug]) + "?"
        context.update(
            rows=rows,
            page_obj=page,
            prev_url=f"{base}page={page.previous_page_number()}" if page.has_previous() else "",
            next_url=f"{base}page={page.next_page_number()}" if page.has_next() else "",
            can_manage=MANAGE in self.perms,
        )
        return context


# --- The editor -------------------------------------------------------------------------------------------------

FIELD_OF_DETAIL = {"coupon_template_id": "coupon_template", "segment_id": "segment"}


class CampaignCreateView(ShopStaffMixin, FormServiceMixin, FormView):
    """The editor: saves a draft through campaign_create or campaign_update; a refused field shows its message."""

    permission = MANAGE
    template_name = "campaigns/campaign_form.html"
    form_class = CampaignForm
    campaign: Campaign | None = None

    def get_form_kwargs(self):
        kwargs = {**super().get_form_kwargs(), "shop": self.shop}
        if self.campaign is not None and needs_saved_choice(self.campaign.audience):
            kwargs["saved_audience"] = self.campaign.audience
        return kwargs

    def get_initial(self):
        if self.campaign is None:
            return self.initial_segment()
        return CampaignForm.initial_for(self.campaign)

    def initial_segment(self) -> dict:
        """?segment=<id> (a link from a segment or an RFM group) chooses that segment of the shop as the audience."""
        pk = parse_id(self.request.GET.get("segment"))
        if pk is None or not segment_list(shop=self.shop).filter(pk=pk).exists():
            return {}
        return {"audience_kind": AudienceKind.SEGMENT, "segment": pk}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        text = form["text"].value() or ""
        context.update(campaign=self.campaign, **editor_context(shop=self.shop, text=text, campaign=self.campaign))
        return context

    def error_field(self, form, exc):
        if isinstance(exc, (UnknownPlaceholder, UnbalancedBraces)):
            return "text"
        if isinstance(exc, InvalidLink):
            return "link_url"
        if isinstance(exc, InvalidAudience):
            kind = form.cleaned_data.get("audience_kind")
            return kind if kind in form.fields else "audience_kind"
        name = exc.details.get("field")
        name = FIELD_OF_DETAIL.get(name, name)
        return name if name in form.fields else None

    def perform(self, form):
        data = form.campaign_input()
        if self.campaign is None:
            self.campaign, _created = campaign_create(shop=self.shop, actor=self.actor, data=data)
        else:
            self.campaign = campaign_update(shop=self.shop, actor=self.actor, campaign=self.campaign, data=data)
        self.success_message = _("Campaign %(name)s saved as a draft.") % {"name": self.campaign.name}
        if self.campaign.status == CampaignStatus.SCHEDULED:
            self.success_message = _("Campaign %(name)s saved.") % {"name": self.campaign.name}

    def get_success_url(self):
        return campaign_url(self.shop, self.campaign)


class CampaignEditView(CampaignCreateView):
    def load(self):
        self.campaign = campaign_get(shop=self.shop, pk=self.kwargs["pk"])

    def get(self, request, *args, **kwargs):
        self.load()
        if self.campaign.status not in EDITABLE:
            messages.error(request, CampaignState(_("Only a draft or scheduled campaign can be edited.")).message)
            return redirect(campaign_url(self.shop, self.campaign))
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.load()
        return super().post(request, *args, **kwargs)


class CampaignPreviewView(ShopStaffMixin, View):
    """GET with the editor's audience fields (and `campaign`, the id of the campaign edited, whose holdout it
    keeps): {"audience", "queued", "suppressed": [{"reason", "label", "n"}], "text"} as the snapshot would classify
    members if the campaign went now; no audience chosen yet: "audience" null; bad input: 400 {"error": "..."}."""

    permission = MANAGE

    def get(self, request, *args, **kwargs):
        campaign = None
        if pk := request.GET.get("campaign"):
            if parse_id(pk) is None:
                return JsonResponse({"error": _("There is no such campaign.")}, status=400)
            campaign = campaign_get(shop=self.shop, pk=parse_id(pk))  # another shop's: 404
        saved = campaign.audience if campaign is not None and needs_saved_choice(campaign.audience) else None
        if "audience_kind" not in request.GET:  # nothing chosen yet: nobody to count
            text = _("Choose an audience to count its members.")
            return JsonResponse({"audience": None, "queued": None, "suppressed": [], "text": text})
        form = AudienceForm(request.GET, shop=self.shop, saved_audience=saved)
        if not form.is_valid():
            errors = [
                f"{form.fields[name].label}: {' '.join(msgs)}" if name in form.fields else " ".join(msgs)
                for name, msgs in form.errors.items()
            ]
            return JsonResponse({"error": " ".join(errors)}, status=400)
        try:
            figures = audience_preview(
                shop=self.shop,
                campaign=form.campaign(pk=campaign.pk if campaign else None),
                settings=messaging_settings_get(shop=self.shop),
                start=timezone.now(),
            )
        except ApplicationError as exc:
            return JsonResponse({"error": str(exc.message)}, status=400)
        labels = dict(Reason.choices)
        suppressed = [
            {"reason": reason, "label": str(labels[reason]), "n": figures["suppressed"].get(reason, 0)}
            for reason in Reason.values
            if figures["suppressed"].get(reason)
        ]
        text = _("%(queued)s of %(audience)s members would get it.") % figures
        return JsonResponse(
            {"audience": figures["audience"], "queued": figures["queued"], "suppressed": suppressed, "text": text}
        )


# --- A campaign's page ------------------------------------------------------------------------------------------


def _bar(value: int, top: int) -> int:
    """A bar's length in percent of the largest (at least 1 for any value above 0, so it shows)."""
    if not top or not value:
        return 0
    return max(1, round(100 * value / top))


def funnel(report: dict) -> list[dict]:
    """The funnel's rows: audience -> suppressed by reason -> sent -> delivered -> clicked -> converted."""
    counts = report["counts"]
    top = counts["audience"]
    labels = dict(Reason.choices)
    rows = [{"label": _("Audience"), "n": top, "kind": "audience"}]
    for reason in Reason.values:
        if n := counts["suppressed"].get(reason):
            rows.append({"label": _("Suppressed: %(reason)s") % {"reason": labels[reason]}, "n": n, "kind": "off"})
    for key, label in (
        ("queued", _("Waiting to send")),
        ("failed", _("Failed")),
        ("sent", _("Sent")),
        ("delivered", pgettext("message", "Delivered")),
        ("clicked", _("Clicked")),
        ("converted", _("Converted (ordered)")),
    ):
        n = counts.get(key)
        if n is None or (key in ("queued", "failed") and not n):
            continue
        rows.append({"label": label, "n": n, "kind": "off" if key == "failed" else key})
    for row in rows:
        row["bar"] = _bar(row["n"], top)
        row["share"] = 100 * row["n"] / top if top else None
    return rows


def uplift_rows(uplift: dict | None) -> tuple[list, list]:
    """The treated and holdout groups (conversion rates in percent), and the two differences with their intervals:
    conversion in percentage points, revenue per member in the shop's currency."""
    if not uplift:
        return [], []
    groups = []
    for label, group in ((_("Messaged"), uplift["treated"]), (_("Holdout"), uplift["holdout"])):
        rate = group["conversion_rate"]
        groups.append((label, {**group, "conversion_rate_pct": None if rate is None else 100 * rate}))
    conversion = uplift["conversion"]
    if conversion is not None:
        conversion = {**conversion, **{k: 100 * conversion[k] for k in ("difference", "low", "high")}}
    estimates = [
        (_("Conversion rate difference"), conversion, _(" points")),
        (_("Revenue per member difference"), uplift["revenue_per_member"], ""),
    ]
    return groups, estimates


ACTIONS = {
    # action: (service, the statuses it is offered in, the question asked before it posts)
    "send": (campaign_send, (CampaignStatus.DRAFT,), gettext_lazy("Send this campaign to its audience?")),
    "pause": (campaign_pause, (CampaignStatus.SENDING, CampaignStatus.SCHEDULED), ""),
    "resume": (campaign_resume, (CampaignStatus.PAUSED,), ""),
    "cancel": (
        campaign_cancel,
        (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED),
        gettext_lazy("Cancel this campaign for good? Messages not yet sent will never be sent."),
    ),
}
ACTION_LABELS = {
    "send": gettext_lazy("Send"),
    "pause": gettext_lazy("Pause"),
    "resume": gettext_lazy("Resume"),
    "cancel": gettext_lazy("Cancel campaign"),
}
ACTION_DONE = {
    "send": gettext_lazy("Campaign on its way."),
    "pause": gettext_lazy("Campaign paused: nothing more is sent until you resume it."),
    "resume": gettext_lazy("Campaign resumed."),
    "cancel": gettext_lazy("Campaign cancelled."),
}


class CampaignDetailView(ShopStaffMixin, TemplateView):
    permission = READ
    template_name = "campaigns/campaign_detail.html"
    campaign: Campaign

    def load(self):
        self.campaign = campaign_get(shop=self.shop, pk=self.kwargs["pk"])

    def get(self, request, *args, **kwargs):
        self.load()
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        campaign = self.campaign
        report = campaign_report(shop=self.shop, campaign=campaign)
        can_manage = MANAGE in self.perms
        actions = [
            {"action": name, "label": ACTION_LABELS[name], "confirm": confirm, "danger": name == "cancel"}
            for name, (_service, statuses, confirm) in ACTIONS.items()
            if can_manage and campaign.status in statuses
        ]
        window_end = parse_datetime(report["window"]["to"]) if report.get("window") else None
        groups, estimates = uplift_rows(report.get("uplift"))
        context.update(
            campaign=campaign,
            report=report,
            funnel=funnel(report),
            uplift=report.get("uplift"),
            uplift_groups=groups,
            estimates=estimates,
            cost=report.get("cost"),
            coupon=report.get("coupon") or {},
            window_end=window_end,
            can_manage=can_manage,
            can_edit=can_manage and campaign.status in EDITABLE,
            actions=actions,
        )
        if can_manage:
            context.setdefault("test_form", TestSendForm())
        return context


class CampaignActionView(ServiceActionView):
    """POST action=send, pause, resume or cancel; back to the campaign's page."""

    permission = MANAGE
    success_url_name = "campaigns"  # post() sends to the campaign's page instead

    def perform(self):
        action = self.request.POST.get("action", "")
        if action not in ACTIONS:
            raise CampaignState(_("Choose send, pause, resume or cancel."))
        service = ACTIONS[action][0]
        self.campaign = service(shop=self.shop, actor=self.actor, campaign=self.campaign)
        self.success_message = ACTION_DONE[action]

    def post(self, request, *args, **kwargs):
        self.campaign = campaign_get(shop=self.shop, pk=kwargs["pk"])
        super().post(request, *args, **kwargs)  # the service call and its message
        return redirect(campaign_url(self.shop, self.campaign))


class CampaignTestSendView(CampaignDetailView):
    """POST phone: the text with sample values to a staff phone (campaign_test_send); errors on the page's form."""

    permission = MANAGE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        self.load()
        form = TestSendForm(request.POST)
        if form.is_valid():
            try:
                campaign_test_send(
                    shop=self.shop, actor=self.actor, campaign=self.campaign, phone=form.cleaned_data["phone"]
                )
            except ApplicationError as exc:
                form.add_error("phone", exc.message)
            else:
                messages.success(request, _("Test message sent to %(phone)s.") % {"phone": form.cleaned_data["phone"]})
                return redirect(campaign_url(self.shop, self.campaign))
        return self.render_to_response(self.get_context_data(test_form=form))
