"""The shop's messaging settings (SPEC 12): the SMS signature, quiet hours, the contact budget and the fallback hour,
saved through campaigns.services.messaging_settings_update; the providers configured for the whole installation are
shown read-only."""

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy
from django.views.generic import FormView

from shops.dashboard import ShopStaffMixin
from shops.roles import Perm
from shops.views import FormServiceMixin

from ..forms import MessagingSettingsForm
from ..selectors import messaging_settings_get
from ..services import messaging_settings_update


def providers() -> list[dict]:
    return [
        {"channel": gettext_lazy("SMS"), "backend": settings.SMS_BACKEND, "rate": settings.SMS_RATE_LIMIT},
        {"channel": gettext_lazy("App push"), "backend": settings.PUSH_BACKEND, "rate": settings.PUSH_RATE_LIMIT},
    ]


class MessagingSettingsView(ShopStaffMixin, FormServiceMixin, FormView):
    permission = Perm.CAMPAIGNS_MANAGE
    template_name = "campaigns/messaging_settings.html"
    form_class = MessagingSettingsForm
    success_message = gettext_lazy("Messaging settings saved.")

    def get_initial(self):
        return MessagingSettingsForm.initial_for(messaging_settings_get(shop=self.shop))

    def get_context_data(self, **kwargs):
        return super().get_context_data(providers=providers(), **kwargs)

    def error_field(self, form, exc):
        name = exc.details.get("field")
        return name if name in form.fields else None

    def perform(self, form):
        messaging_settings_update(shop=self.shop, actor=self.actor, **form.fields_data())

    def get_success_url(self):
        return reverse("dashboard:messaging_settings", args=[self.shop.slug])
