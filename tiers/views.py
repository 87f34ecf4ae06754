"""Dashboard pages of tiers: the ladder page (how members spread over the tiers, the editor with its preview,
changes waiting for their date, the last evaluations) and a member's tier with the manual assignment. Reading
needs Perm.MEMBERS_VIEW, changing the ladder Perm.RULES_CHANGE, assigning Perm.POINTS_ADJUST."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView

from members.models import Member, MemberStatus
from members.selectors import member_get, member_get_live
from points.selectors import points_program_of
from shops.dashboard import ServiceActionView, ShopStaffMixin
from shops.models import Shop
from shops.roles import Perm
from shops.views import FieldErrorMixin

from .errors import InvalidLadder
from .evaluation import tier_policy_preview
from .forms import LadderApplyForm, TierAssignForm, ladder_digest, ladder_formset
from .rules import DEFAULTS, MAX_TIERS
from .selectors import (
    tier_base_of,
    tier_changes_of_member,
    tier_distribution,
    tier_evaluations_recent,
    tier_of_member,
    tier_progress,
    tier_schedule_get,
    tier_schedules_pending,
    tiers_of_shop,
)
from .services import LadderApplied, tier_assign, tier_ladder_apply, tier_ladder_schedule, tier_schedule_cancel

HISTORY_LIMIT = 100


def tiers_url(shop: Shop) -> str:
    return reverse("dashboard:tiers", args=[shop.slug])


def _show_ladder_error(formset, apply_form, exc: InvalidLadder) -> None:
    """At the tier and field the error names (its `details`), else on that tier, else above the editor."""
    index, field = exc.details.get("index"), exc.details.get("field")
    if isinstance(index, int) and 0 <= index < len(formset.forms):
        form = formset.forms[index]
        form.add_error(field if field in form.fields else None, exc.message)
    else:
        apply_form.add_error(None, exc.message)


class TiersView(ShopStaffMixin, TemplateView):
    """The ladder page. One form holds the editor's table and its buttons: add a tier at the top, remove the top
    tier, preview (nothing written), and apply what the preview showed, now or from a later day."""

    # Every role may read the ladder and how members spread over it: clerks answer shoppers' questions about
    # tiers, analysts read the figures. Changing it, and previewing (a read over every member), needs RULES_CHANGE.
    permission = Perm.MEMBERS_VIEW
    template_name = "tiers/tiers.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        can_edit = Perm.RULES_CHANGE in self.perms
        formset = context.get("formset") or ladder_formset(tiers=list(tiers_of_shop(shop=self.shop)))
        distribution = tier_distribution(shop=self.shop)
        total = sum(count for _tier, count in distribution)
        context.update(
            can_edit=can_edit,
            formset=formset if can_edit else formset.readonly(),
            apply_form=context.get("apply_form") or LadderApplyForm(shop=self.shop),
            distribution=[(tier, count, 100 * count / total if total else 0) for tier, count in distribution],
            members_total=total,
            schedules=tier_schedules_pending(shop=self.shop),
            evaluations=tier_evaluations_recent(shop=self.shop),
            max_tiers=MAX_TIERS,
        )
        return context

    def post(self, request, *args, **kwargs):
        if Perm.RULES_CHANGE not in self.perms:
            raise PermissionDenied
        action = request.POST.get("action")
        tiers = list(tiers_of_shop(shop=self.shop))
        formset = ladder_formset(tiers=tiers, data=request.POST)
        apply_form = LadderApplyForm(request.POST, shop=self.shop)
        if action in ("add", "remove"):
            return self._resize(tiers, formset, apply_form, grow=action == "add")
        if not (formset.is_valid() and apply_form.is_valid()):
            return self.render_to_response(self.get_context_data(formset=formset, apply_form=apply_form))
        ladder, effective_on = formset.ladder(), apply_form.cleaned_data["effective_on"]
        digest = ladder_digest(ladder, effective_on)
        if action == "apply" and apply_form.cleaned_data["previewed"] == digest:
            return self._apply(formset, apply_form, ladder)
        # A preview, or an Apply whose ladder differs from the one previewed: preview it first.
        return self._preview(formset, apply_form, ladder, digest, stale=action == "apply")

    def _resize(self, tiers, formset, apply_form, *, grow: bool):
        """Add a tier at the top or remove the top one, nothing checked or saved: the editor comes back with the
        values as typed."""
        rows = formset.raw_rows()
        if grow and len(rows) >= MAX_TIERS:
            messages.error(self.request, _("A program has at most %(max)d tiers.") % {"max": MAX_TIERS})
        elif grow:
            rows.append({"name": "", **DEFAULTS})
        elif len(rows) <= 1:
            messages.error(self.request, _("The tier members hold on joining cannot be removed."))
        else:
            rows.pop()
        formset = ladder_formset(tiers=tiers, rows=rows)
        apply_form = LadderApplyForm(shop=self.shop, initial={"effective_on": apply_form["effective_on"].value()})
        return self.render_to_response(self.get_context_data(formset=formset, apply_form=apply_form))

    def _preview(self, formset, apply_form, ladder, digest, *, stale: bool):
        effective_on = apply_form.cleaned_data["effective_on"]
        # The liability estimate needs the points program's base rate. Points reads tiers (their multipliers), not
        # the other way round, so the page reads the rate and hands it to the preview.
        rate = points_program_of(shop=self.shop).points_per_unit
        try:
            preview = tier_policy_preview(shop=self.shop, ladder=ladder, on=effective_on, points_per_unit=rate)
        except InvalidLadder as exc:
            _show_ladder_error(formset, apply_form, exc)
            return self.render_to_response(self.get_context_data(formset=formset, apply_form=apply_form))
        apply_form = LadderApplyForm(shop=self.shop, initial={"effective_on": effective_on, "previewed": digest})
        points_change = preview["points_per_year"]["after"] - preview["points_per_year"]["before"]
        context = self.get_context_data(
            formset=formset, apply_form=apply_form, preview=preview, points_change=points_change, stale=stale
        )
        return self.render_to_response(context)

    def _apply(self, formset, apply_form, ladder):
        effective_on = apply_form.cleaned_data["effective_on"]
        try:
            if apply_form.applies_now():
                applied = tier_ladder_apply(shop=self.shop, ladder=ladder, actor=self.actor)
                message = _applied_message(applied)
            else:
                tier_ladder_schedule(shop=self.shop, ladder=ladder, effective_on=effective_on, actor=self.actor)
                message = _("The new tiers will apply on %(date)s.") % {"date": effective_on.isoformat()}
        except InvalidLadder as exc:
            _show_ladder_error(formset, apply_form, exc)
            return self.render_to_response(self.get_context_data(formset=formset, apply_form=apply_form))
        messages.success(self.request, message)
        return redirect(tiers_url(self.shop))


def _applied_message(applied: LadderApplied) -> str:
    if applied.evaluation is None:
        return _("The tiers were already like this: nothing changed.")
    return _(
        "Tiers applied. Members of removed tiers moved: %(moved)d; the evaluation upgraded %(up)d and lowered %(down)d."
    ) % {"moved": applied.moved, "up": applied.evaluation.upgraded, "down": applied.evaluation.downgraded}


class TierScheduleCancelView(ServiceActionView):
    permission = Perm.RULES_CHANGE
    success_message = gettext_lazy("The scheduled tier change was cancelled.")
    success_url_name = "tiers"

    def perform(self):
        schedule = tier_schedule_get(shop=self.shop, pk=self.kwargs["pk"])
        tier_schedule_cancel(shop=self.shop, schedule=schedule, actor=self.actor)


# --- A member's tier ---------------------------------------------------------------------------------------------


def member_tier_card(*, shop: Shop, member: Member, perms, form: TierAssignForm | None = None) -> dict:
    """What the member's tier card shows: the tier, the progress to the next one, and the assignment form for
    staff who may assign (not for an erased member). Also rendered on the member's profile (tiers.templatetags)."""
    may_assign = Perm.POINTS_ADJUST in perms and member.status != MemberStatus.ERASED
    return {
        "member_tier": tier_of_member(shop=shop, member=member),
        "progress": tier_progress(shop=shop, member=member),
        "assign_form": (form or TierAssignForm(shop=shop, member=member)) if may_assign else None,
    }


class MemberTierView(ShopStaffMixin, FormView):
    """A member's tier, progress and tier history; staff who may assign see the form, which posts to
    TierAssignView."""

    permission = Perm.MEMBERS_VIEW
    template_name = "tiers/member_tier.html"
    form_class = TierAssignForm
    http_method_names = ["get"]
    member: Member

    def get(self, request, *args, **kwargs):
        # An erased member's tier and history stay readable, as their profile does.
        self.member = member_get(shop=self.shop, pk=kwargs["pk"])
        return super().get(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "shop": self.shop, "member": self.member}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            member=self.member,
            changes=tier_changes_of_member(shop=self.shop, member=self.member)[:HISTORY_LIMIT],
            base_tier=tier_base_of(shop=self.shop),  # what a NULL tier in the history means
            **member_tier_card(shop=self.shop, member=self.member, perms=self.perms, form=context["form"]),
        )
        return context


class TierAssignView(FieldErrorMixin, MemberTierView):
    """The assignment form's POST: one tier_assign call, then back to the member's profile. Errors are shown on
    the member's tier page."""

    # Putting a member on a tier by hand grants its benefits (price rate, points multiplier, shipping) the way an
    # adjustment grants points, so it takes the same right: owners, admins and marketers hold it; analysts (who
    # read figures) and clerks (who serve at the counter) do not.
    permission = Perm.POINTS_ADJUST
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        self.member = member_get_live(shop=self.shop, pk=kwargs["pk"])
        return super().post(request, *args, **kwargs)

    def perform(self, form):
        data = form.cleaned_data
        tier_assign(
            shop=self.shop,
            member=self.member,
            tier=data["tier"],
            until=data["until"],
            note=data["note"],
            actor=self.actor,
        )
        self.success_message = _("%(member)s is now on %(tier)s.") % {
            "member": self.member.name or _("The member"),
            "tier": data["tier"].name,
        }

    def get_success_url(self):
        return reverse("dashboard:member", args=[self.shop.slug, self.member.pk])
