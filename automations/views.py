"""Dashboard pages of automations (SPEC 13): the list with on/off and results, an automation's page (its steps,
results over time, uplift against the holdout), the editor with each message previewed for a sample member as it
will be sent, and the survey answers with the low scores to review.

Reading needs Perm.ANALYTICS_VIEW, switching and editing Perm.CAMPAIGNS_MANAGE (as campaigns)."""

import contextlib

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from analytics.charts import Series, bar_chart
from campaigns.errors import MissingSignature
from campaigns.rules import render, sms_compose, sms_parts
from campaigns.selectors import messaging_settings_get
from campaigns.services import sample_values
from campaigns.views.editor import counter_text
from shops.dashboard import ServiceActionView, ShopStaffMixin
from shops.errors import ApplicationError
from shops.roles import Perm

from .forms import MAX_STEPS, AutomationForm, StepForm, StepFormSet
from .models import Automation, JourneyStatus, StepKind, Trigger
from .reports import automation_report
from .selectors import (
    automation_get,
    automation_list,
    automation_steps,
    survey_alerts_count,
    survey_answers,
)
from .services import automation_switch, automation_update, survey_answer_review

READ, MANAGE = Perm.ANALYTICS_VIEW, Perm.CAMPAIGNS_MANAGE
SPARE_ROWS = 2


def _automation(view) -> Automation:
    """The automation of the URL; another shop's or a missing one: 404."""
    try:
        return automation_get(shop=view.shop, pk=view.kwargs["pk"])
    except Automation.DoesNotExist:
        raise Http404 from None


class AutomationListView(ShopStaffMixin, TemplateView):
    permission = READ
    template_name = "automations/automation_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = []
        for automation in automation_list(shop=self.shop):
            report = automation_report(shop=self.shop, automation=automation)
            rows.append((automation, report))
        context.update(rows=rows, can_manage=MANAGE in self.perms, alerts=survey_alerts_count(shop=self.shop))
        return context


class AutomationSwitchView(ServiceActionView):
    permission = MANAGE
    success_url_name = "automations"

    def perform(self):
        automation = _automation(self)
        on = self.request.POST.get("enabled") == "1"
        automation_switch(shop=self.shop, automation=automation, enabled=on, actor=self.actor)
        self.success_message = (_("%(name)s is on.") if on else _("%(name)s is off.")) % {"name": automation.name}


def sample(shop) -> dict:
    """Placeholder values of a made-up member and occurrence, for the previews."""
    return {**sample_values(shop=shop), "order": "E20261207001", "gift": _("Birthday coupon"), "date": _("Dec 31"),
            "item": _("Coffee beans")}  # fmt: skip


def previews(shop, steps: list) -> list[dict]:
    """Each message step's text as a sample member will read it (an SMS with its signature, opt-out line, length)."""
    settings = messaging_settings_get(shop=shop)
    values = sample(shop)
    out = []
    for step in steps:
        if step.kind != StepKind.MESSAGE or step.campaign is None:
            continue
        text = render(step.campaign.text, values)
        counter = ""
        if step.campaign.channel == "sms":
            with contextlib.suppress(MissingSignature):  # no signature yet: the text as written
                text = sms_compose(
                    text,
                    signature=settings.signature or shop.name,
                    locale=shop.locale,
                    marketing=not step.campaign.transactional,
                )
            counter = counter_text(sms_parts(text))
        out.append({"position": step.position + 1, "channel": step.campaign.get_channel_display(), "text": text,
                    "counter": counter})  # fmt: skip
    return out


class AutomationDetailView(ShopStaffMixin, TemplateView):
    permission = READ
    template_name = "automations/automation_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        automation = _automation(self)
        report = automation_report(shop=self.shop, automation=automation)
        weekly = report["weekly"]
        chart = None
        if weekly:
            chart = bar_chart(
                labels=[row["week"][5:] for row in weekly],
                series=[
                    Series(_("Treated"), [row["entered"] - row["held"] for row in weekly], "s0"),
                    Series(_("Held out"), [row["held"] for row in weekly], "s1"),
                ],
                label=_("Members entering, week by week"),
            )
        steps = automation_steps(shop=self.shop, automation=automation)
        context.update(
            automation=automation,
            steps=steps,
            previews=previews(self.shop, steps),
            report=report,
            chart=chart,
            journey_counts=[(label, report["journeys"].get(status, 0)) for status, label in JourneyStatus.choices],
            can_manage=MANAGE in self.perms,
        )
        return context


class AutomationEditView(ShopStaffMixin, TemplateView):
    permission = MANAGE
    template_name = "automations/automation_form.html"

    def _forms(self, automation, data=None):
        form = AutomationForm(
            data, shop=self.shop, automation=automation, initial=AutomationForm.initial_for(automation)
        )
        steps = automation_steps(shop=self.shop, automation=automation)
        initial = [StepForm.initial_for(step) for step in steps]
        initial += [{"kind": ""}] * min(SPARE_ROWS, MAX_STEPS - len(initial))  # room for steps to add
        formset = StepFormSet(data, initial=initial, form_kwargs={"templates": form.templates}, prefix="steps")
        return form, formset, steps

    def get(self, request, *args, **kwargs):
        automation = _automation(self)
        form, formset, steps = self._forms(automation)
        return self.render_to_response(self._context(automation, form, formset, steps))

    def _context(self, automation, form, formset, steps):
        return self.get_context_data(
            automation=automation,
            form=form,
            formset=formset,
            previews=previews(self.shop, steps),
            placeholders=[
                "name",
                "shop",
                "tier",
                "points_balance",
                "points_expiring",
                "coupon",
                "link",
                "order",
                "gift",
                "date",
                "item",
            ],  # fmt: skip
            is_order_care=automation.trigger == Trigger.ORDER_CARE,
        )

    def post(self, request, *args, **kwargs):
        automation = _automation(self)
        form, formset, steps = self._forms(automation, request.POST)
        if form.is_valid() and formset.is_valid():
            step_inputs = [s for s in (f.step() for f in formset.forms) if s is not None]
            try:
                automation_update(
                    shop=self.shop,
                    automation=automation,
                    fields=form.fields_to_save(form.templates),
                    steps=step_inputs,
                    actor=self.actor,
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Automation saved."))
                return redirect(reverse("dashboard:automation", args=[self.shop.slug, automation.pk]))
        return self.render_to_response(self._context(automation, form, formset, steps))


class SurveyAnswersView(ShopStaffMixin, TemplateView):
    permission = READ
    template_name = "automations/survey_answers.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(answers=survey_answers(shop=self.shop)[:200], can_manage=MANAGE in self.perms)
        return context


class SurveyReviewView(ServiceActionView):
    permission = MANAGE
    success_url_name = "survey_answers"

    def perform(self):
        answer = survey_answers(shop=self.shop).filter(pk=self.kwargs["pk"]).first()
        if answer is None:
            raise Http404
        survey_answer_review(shop=self.shop, answer=answer, actor=self.actor)
        self.success_message = _("Marked as reviewed.")
