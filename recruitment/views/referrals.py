"""Dashboard pages of referrals: the shop's rules (saved through recruitment.referrals.referral_program_save) and
the leaderboard of inviters over a period. Both need Perm.RECRUITMENT_MANAGE; the leaderboard masks phones as the
member list does."""

from django.urls import reverse
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView

from members.phones import mask_phone
from shops.dashboard import ShopStaffMixin
from shops.roles import Perm
from shops.views import FormServiceMixin

from ..forms import LeaderboardForm, ReferralProgramForm
from ..referrals import REFUSALS, referral_program_save
from ..selectors import referral_leaderboard, referral_program_of

LEADERBOARD_SIZE = 50


class ReferralSettingsView(ShopStaffMixin, FormServiceMixin, FormView):
    permission = Perm.RECRUITMENT_MANAGE
    template_name = "recruitment/referral_settings.html"
    form_class = ReferralProgramForm
    success_message = gettext_lazy("Referral rules saved.")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "shop": self.shop, "instance": referral_program_of(shop=self.shop)}

    def get_context_data(self, **kwargs):
        return super().get_context_data(refusals=list(REFUSALS.values()), **kwargs)

    def perform(self, form):
        referral_program_save(shop=self.shop, actor=self.actor, program=form.instance)

    def get_success_url(self):
        return reverse("dashboard:referral_settings", args=[self.shop.slug])


class ReferralLeaderboardView(ShopStaffMixin, TemplateView):
    """Inviters by rewarded, then all, invitations in the period (?period=7d, 30d or all; 30 days by default)."""

    permission = Perm.RECRUITMENT_MANAGE
    template_name = "recruitment/referral_leaderboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = LeaderboardForm(self.request.GET or None)
        rows = referral_leaderboard(shop=self.shop, since=form.since(), limit=LEADERBOARD_SIZE)
        for row in rows:
            row["masked_phone"] = mask_phone(row["member"].phone)
        context.update(
            form=form if form.is_bound else LeaderboardForm(initial={"period": form.chosen()}),
            period=form.chosen(),
            rows=rows,
            program=referral_program_of(shop=self.shop),
        )
        return context
