"""Dashboard pages of the points program: the rules (program settings and bonus rules), and a member's ledger with
the staff adjustment. Changing rules needs Perm.RULES_CHANGE, reading a ledger Perm.MEMBERS_VIEW, adjusting
Perm.POINTS_ADJUST."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView

from members.models import Member, MemberStatus
from members.selectors import member_get, member_get_live
from shops.dashboard import ServiceActionView, ShopStaffMixin
from shops.errors import ApplicationError
from shops.roles import Perm
from shops.time import days_bounds
from shops.views import FieldErrorMixin

from .errors import IdempotencyConflict
from .forms import BonusRuleForm, LedgerFilterForm, PointsAdjustForm, PointsProgramForm, new_adjustment_key
from .member_data import pending_awards, points_entries
from .models import PointsProgram, Rounding
from .program import bonus_rule_delete, bonus_rule_get, bonus_rule_save, points_examples, points_program_update
from .selectors import bonus_rules_of, points_program_of, points_summary
from .services import points_adjust

LEDGER_PAGE_SIZE = 50
REUSED_FORM_MESSAGE = gettext_lazy(
    "This form was already used for another adjustment. Check the entries below, then save again to make a new "
    "adjustment."
)
ROUNDING_IN_WORDS = {
    Rounding.DOWN: gettext_lazy("fractions of a point are dropped"),
    Rounding.HALF_UP: gettext_lazy("fractions of a point are rounded half up"),
    Rounding.UP: gettext_lazy("fractions of a point are rounded up"),
}


def _money(shop, amount) -> str:
    return f"{shop.currency} {amount:,.2f}"


def rate_in_words(shop, program: PointsProgram) -> str:
    """The earning rule in one sentence, with its rounding and two worked examples (points.rules computes them)."""
    (amount1, points1), (amount2, points2) = points_examples(shop=shop, program=program)
    return _(
        "Members earn %(rate)s points for each %(currency)s 1 paid; %(rounding)s. For example, an order of "
        "%(amount1)s earns %(points1)s points and an order of %(amount2)s earns %(points2)s points."
    ) % {
        "rate": format(program.points_per_unit.normalize(), "f"),
        "currency": shop.currency,
        "rounding": ROUNDING_IN_WORDS[program.rounding],
        "amount1": _money(shop, amount1),
        "points1": points1,
        "amount2": _money(shop, amount2),
        "points2": points2,
    }


def rules_url(shop) -> str:
    return reverse("dashboard:points_rules", args=[shop.slug])


class PointsRulesView(ShopStaffMixin, FieldErrorMixin, FormView):
    """The program's settings (this page's form) and the list of bonus rules."""

    permission = Perm.RULES_CHANGE
    template_name = "points/rules.html"
    form_class = PointsProgramForm
    success_message = gettext_lazy("Points rules saved.")

    def get_initial(self):
        return PointsProgramForm.initial_for(points_program_of(shop=self.shop))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            rate_sentence=rate_in_words(self.shop, points_program_of(shop=self.shop)),
            bonus_rules=bonus_rules_of(shop=self.shop),
        )
        return context

    def perform(self, form):
        points_program_update(shop=self.shop, actor=self.actor, **form.cleaned_data)

    def get_success_url(self):
        return rules_url(self.shop)


class BonusRuleCreateView(ShopStaffMixin, FieldErrorMixin, FormView):
    permission = Perm.RULES_CHANGE
    template_name = "points/bonus_rule_form.html"
    form_class = BonusRuleForm
    success_message = gettext_lazy("Bonus rule saved.")
    rule = None

    def get_context_data(self, **kwargs):
        return super().get_context_data(rule=self.rule, **kwargs)

    def perform(self, form):
        bonus_rule_save(shop=self.shop, actor=self.actor, rule=self.rule, **form.cleaned_data)

    def get_success_url(self):
        return rules_url(self.shop)


class BonusRuleEditView(BonusRuleCreateView):
    def get(self, request, *args, **kwargs):
        self.rule = bonus_rule_get(shop=self.shop, pk=kwargs["pk"])
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.rule = bonus_rule_get(shop=self.shop, pk=kwargs["pk"])
        return super().post(request, *args, **kwargs)

    def get_initial(self):
        return BonusRuleForm.initial_for(self.rule)


class BonusRuleDeleteView(ServiceActionView):
    permission = Perm.RULES_CHANGE
    success_message = gettext_lazy("Bonus rule deleted.")
    success_url_name = "points_rules"

    def perform(self):
        bonus_rule_delete(shop=self.shop, actor=self.actor, rule=bonus_rule_get(shop=self.shop, pk=self.kwargs["pk"]))


class BonusRuleActiveView(ServiceActionView):
    """POST active=1 to switch a bonus rule on, active=0 to switch it off."""

    permission = Perm.RULES_CHANGE
    success_url_name = "points_rules"

    def perform(self):
        active = self.request.POST.get("active") == "1"
        rule = bonus_rule_get(shop=self.shop, pk=self.kwargs["pk"])
        bonus_rule_save(shop=self.shop, actor=self.actor, rule=rule, active=active)
        self.success_message = _("Bonus rule switched on.") if active else _("Bonus rule switched off.")


# --- A member's ledger ------------------------------------------------------------------------------------------


class PointsLedgerView(ShopStaffMixin, FormView):
    """Balance, pending and expiring points, and the entries (newest first, filtered by kind and days, 50 a page).
    Staff who may adjust see the adjustment form, which posts to PointsAdjustView."""

    permission = Perm.MEMBERS_VIEW
    template_name = "points/ledger.html"
    form_class = PointsAdjustForm
    http_method_names = ["get"]
    member: Member

    def get(self, request, *args, **kwargs):
        # An erased member's ledger stays readable (balances and figures remain, anonymous), as their profile does.
        self.member = member_get(shop=self.shop, pk=kwargs["pk"])
        return super().get(request, *args, **kwargs)

    def ledger_url(self) -> str:
        return reverse("dashboard:points_ledger", args=[self.shop.slug, self.member.pk])

    def _entries(self, filter_form: LedgerFilterForm):
        data = filter_form.cleaned_data if filter_form.is_valid() else {}
        # days in the shop's time zone; "until" includes its whole day
        start, end = days_bounds(self.shop, data.get("created_from"), data.get("created_to"))
        entries = points_entries(
            shop=self.shop, member=self.member, kind=data.get("kind", ""), created_from=start, created_until=end
        )
        query = QueryDict(mutable=True)
        for name in ("kind", "created_from", "created_to"):
            if data.get(name):
                query[name] = str(data[name])
        return entries, query.urlencode()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filter_form = LedgerFilterForm(self.request.GET)
        entries, query = self._entries(filter_form)
        page = Paginator(entries, LEDGER_PAGE_SIZE).get_page(self.request.GET.get("page"))
        base = self.ledger_url() + "?" + (f"{query}&" if query else "")
        context.update(
            member=self.member,
            summary=points_summary(shop=self.shop, member=self.member, now=timezone.now(), entries=0),
            pending_awards=pending_awards(shop=self.shop, member=self.member),
            filter_form=filter_form,
            filtered=bool(query),
            page_obj=page,
            entries=page.object_list,
            prev_url=f"{base}page={page.previous_page_number()}" if page.has_previous() else "",
            next_url=f"{base}page={page.next_page_number()}" if page.has_next() else "",
            can_adjust=Perm.POINTS_ADJUST in self.perms and self.member.status != MemberStatus.ERASED,
        )
        return context


class PointsAdjustView(PointsLedgerView):
    """The adjustment form's POST: one points_adjust call. A form submitted twice carries the same idempotency
    key, so the second submission changes nothing and says so. Errors are shown on the ledger page's form."""

    permission = Perm.POINTS_ADJUST
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        self.member = member_get_live(shop=self.shop, pk=kwargs["pk"])
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            posted = points_adjust(
                shop=self.shop,
                member=self.member,
                points=data["points"],
                reason=data["reason"],
                idempotency_key=data["idempotency_key"],
                actor=self.actor,
            )
        except IdempotencyConflict:
            # This form was submitted before with other values (a page kept open after saving, then edited): it
            # gets a fresh key, so saving again is a deliberate new adjustment.
            renewed = form.data.copy()
            renewed["idempotency_key"] = new_adjustment_key()
            form = self.get_form_class()(renewed)
            form.is_valid()
            form.add_error(None, REUSED_FORM_MESSAGE)
            return self.form_invalid(form)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return self.form_invalid(form)
        if posted.created:
            messages.success(
                self.request, _("Points adjusted by %(points)s.") % {"points": f"{posted.entry.points:+d}"}
            )
        else:
            messages.info(self.request, _("This adjustment was already saved; it was not made twice."))
        return redirect(self.ledger_url())
