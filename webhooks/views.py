"""The webhooks pages of the dashboard (SPEC 17): endpoints (add, delete, rotate, turn back on; the secret shown
once), and per endpoint the delivery log with a retry per delivery and the replay of a period."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView

from shops.dashboard import ShopStaffMixin
from shops.errors import ApplicationError
from shops.roles import Perm
from shops.views import FormServiceMixin

from . import selectors, services
from .forms import EndpointForm, ReplayForm

# A new secret travels to the next page in the session and is removed as it is shown: shown once.
SESSION_KEY = "new_webhook_secret"
LOG_ROWS = 50


class EndpointListView(ShopStaffMixin, FormServiceMixin, FormView):
    permission = Perm.WEBHOOKS_MANAGE
    template_name = "webhooks/endpoints.html"
    form_class = EndpointForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            endpoints=selectors.endpoint_list(shop=self.shop), new_secret=self.request.session.pop(SESSION_KEY, None)
        )
        return context

    def perform(self, form):
        data = form.cleaned_data
        endpoint, secret = services.endpoint_create(
            shop=self.shop,
            actor=self.actor,
            url=data["url"],
            event_types=data["events"],
            description=data["description"],
        )
        self.request.session[SESSION_KEY] = {"url": endpoint.url, "secret": secret}

    def get_success_url(self):
        return reverse("dashboard:webhooks", args=[self.shop.slug])


class EndpointDetailView(ShopStaffMixin, FormView):
    permission = Perm.WEBHOOKS_MANAGE
    template_name = "webhooks/endpoint.html"
    form_class = ReplayForm
    http_method_names = ["get"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        endpoint = selectors.endpoint_get(shop=self.shop, pk=self.kwargs["pk"])
        deliveries = list(selectors.delivery_list(shop=self.shop, endpoint=endpoint).order_by("-pk")[:LOG_ROWS])
        log = selectors.attempts_of(shop=self.shop, deliveries=deliveries)
        context.update(
            endpoint=endpoint,
            rows=[(delivery, log[delivery.pk]) for delivery in deliveries],
            new_secret=self.request.session.pop(SESSION_KEY, None),
        )
        return context


class _EndpointPost(ShopStaffMixin, View):
    permission = Perm.WEBHOOKS_MANAGE
    http_method_names = ["post"]

    def endpoint(self):
        return selectors.endpoint_get(shop=self.shop, pk=self.kwargs["pk"])

    def done(self, message, *, to_list: bool = False):
        if message:
            messages.success(self.request, message)
        if to_list:
            return redirect("dashboard:webhooks", shop_slug=self.shop.slug)
        return redirect("dashboard:webhook", shop_slug=self.shop.slug, pk=self.kwargs["pk"])


class EndpointActionView(_EndpointPost):
    """rotate, delete or enable, named by the `action` field."""

    def post(self, request, *args, **kwargs):
        endpoint = self.endpoint()
        action = request.POST.get("action")
        if action == "rotate":
            endpoint, secret = services.endpoint_rotate(shop=self.shop, actor=self.actor, endpoint=endpoint)
            request.session[SESSION_KEY] = {"url": endpoint.url, "secret": secret}
            return self.done(_("New secret made. The previous one keeps signing for 24 hours."))
        if action == "delete":
            services.endpoint_delete(shop=self.shop, actor=self.actor, endpoint=endpoint)
            return self.done(_("Endpoint deleted."), to_list=True)
        if action == "enable":
            services.endpoint_enable(shop=self.shop, actor=self.actor, endpoint=endpoint)
            return self.done(_("Endpoint turned back on."))
        messages.error(request, _("Unknown action."))
        return self.done("")


class EndpointReplayView(_EndpointPost):
    def post(self, request, *args, **kwargs):
        endpoint = self.endpoint()
        form = ReplayForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Give the start and end of the period."))
            return self.done("")
        try:
            count = services.deliveries_replay(shop=self.shop, actor=self.actor, endpoint=endpoint, **form.cleaned_data)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return self.done("")
        return self.done(_("%(count)d deliveries queued.") % {"count": count})


class DeliveryRetryView(_EndpointPost):
    def post(self, request, *args, **kwargs):
        endpoint = self.endpoint()
        delivery = selectors.delivery_get(shop=self.shop, endpoint=endpoint, pk=self.kwargs["delivery"])
        try:
            services.delivery_retry(shop=self.shop, actor=self.actor, endpoint=endpoint, delivery=delivery)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return self.done("")
        return self.done(_("Delivery queued: it is sent again with the same webhook-id."))
