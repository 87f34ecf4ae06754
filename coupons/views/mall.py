"""Dashboard pages of the points mall: the catalogue (coupons with a points price, and the gifts, which are created,
edited and taken off offer here) needs Perm.RULES_CHANGE; the fulfilment queue of gift exchanges (ship with a
tracking number, deliver, cancel giving the points and the stock back) needs Perm.COUPONS_GRANT."""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView

from members.phones import mask_phone
from shops.dashboard import ServiceActionView, ShopStaffMixin
from shops.roles import Perm
from shops.views import FieldErrorMixin

from ..forms.mall import CancelForm, GiftForm, QueueFilterForm, ShipForm
from ..mall import (
    InvalidExchange,
    gift_save,
    gift_set_active,
    mall_cancel,
    mall_deliver,
    mall_queue,
    mall_queue_counts,
    mall_ship,
)
from ..models import Fulfilment
from ..selectors import exchange_get, gift_get, gift_list, mall_templates

QUEUE_PAGE_SIZE = 50


class MallView(ShopStaffMixin, TemplateView):
    """The catalogue: coupons on offer for points (priced in the coupon editor) and the gifts."""

    permission = Perm.RULES_CHANGE
    template_name = "coupons/mall_catalogue.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            templates=mall_templates(shop=self.shop),
            gifts=gift_list(shop=self.shop),
            can_fulfil=Perm.COUPONS_GRANT in self.perms,
        )
        return context


def mall_url(shop) -> str:
    return reverse("dashboard:coupon_mall", args=[shop.slug])


class GiftCreateView(ShopStaffMixin, FieldErrorMixin, FormView):
    permission = Perm.RULES_CHANGE
    template_name = "coupons/mall_gift_form.html"
    form_class = GiftForm
    success_message = gettext_lazy("Gift saved.")
    gift = None

    def get_context_data(self, **kwargs):
        return super().get_context_data(gift=self.gift, **kwargs)

    def perform(self, form):
        gift_save(shop=self.shop, actor=self.actor, gift=self.gift, **form.cleaned_data)

    def get_success_url(self):
        return mall_url(self.shop)


class GiftEditView(GiftCreateView):
    def get(self, request, *args, **kwargs):
        self.gift = gift_get(shop=self.shop, pk=kwargs["pk"])
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.gift = gift_get(shop=self.shop, pk=kwargs["pk"])
        return super().post(request, *args, **kwargs)

    def get_initial(self):
        return GiftForm.initial_for(self.gift)


class GiftActiveView(ServiceActionView):
    """POST active=1 to offer a gift in the mall, active=0 to take it off."""

    permission = Perm.RULES_CHANGE
    success_url_name = "coupon_mall"

    def perform(self):
        active = self.request.POST.get("active") == "1"
        gift = gift_get(shop=self.shop, pk=self.kwargs["pk"])
        gift_set_active(shop=self.shop, actor=self.actor, gift=gift, active=active)
        self.success_message = _("Gift offered in the points mall.") if active else _("Gift taken off the mall.")


# --- The fulfilment queue ------------------------------------------------------------------------------------------


class MallQueueView(ShopStaffMixin, TemplateView):
    """Gift exchanges to fulfil, 50 a page: the pending ones unless another status (or all) is asked for. Members
    and recipients' phones are masked unless the role may see full numbers."""

    permission = Perm.COUPONS_GRANT
    template_name = "coupons/mall_queue.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = QueueFilterForm({"status": self.request.GET.get("status", Fulfilment.PENDING)})
        status = form.cleaned_data["status"] if form.is_valid() else Fulfilment.PENDING
        page = Paginator(mall_queue(shop=self.shop, status=status), QUEUE_PAGE_SIZE).get_page(
            self.request.GET.get("page")
        )
        full_phones = Perm.MEMBERS_PHONE in self.perms
        for exchange in page.object_list:
            exchange.member.masked_phone = mask_phone(exchange.member.phone)
            phone = exchange.recipient_phone
            exchange.phone_shown = phone if full_phones else mask_phone(phone)
        base = reverse("dashboard:coupon_mall_queue", args=[self.shop.slug]) + "?" + urlencode({"status": status})
        counts = mall_queue_counts(shop=self.shop)
        context.update(
            status=status,
            statuses=[
                (value, label, counts.get(value, sum(counts.values())))
                for value, label in form.fields["status"].choices
            ],
            page_obj=page,
            exchanges=page.object_list,
            prev_url=f"{base}&page={page.previous_page_number()}" if page.has_previous() else "",
            next_url=f"{base}&page={page.next_page_number()}" if page.has_next() else "",
            ship_form=ShipForm(),
            cancel_form=CancelForm(),
        )
        return context


class ExchangeActionView(ServiceActionView):
    """A fulfilment action on one gift exchange; back to the queue at the status tab it was taken from."""

    permission = Perm.COUPONS_GRANT
    success_url_name = "coupon_mall_queue"

    def exchange(self):
        return exchange_get(shop=self.shop, pk=self.kwargs["pk"])

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        back = QueueFilterForm({"status": request.POST.get("back", Fulfilment.PENDING)})
        if back.is_valid():
            response["Location"] += "?" + urlencode({"status": back.cleaned_data["status"]})
        return response


class ExchangeShipView(ExchangeActionView):
    success_message = gettext_lazy("Marked as shipped.")

    def perform(self):
        exchange = self.exchange()
        form = ShipForm(self.request.POST)
        if not form.is_valid():
            raise InvalidExchange(_("Give the tracking number (at most 64 characters)."))
        mall_ship(
            shop=self.shop, exchange=exchange, tracking_number=form.cleaned_data["tracking_number"], actor=self.actor
        )


class ExchangeDeliverView(ExchangeActionView):
    success_message = gettext_lazy("Marked as delivered.")

    def perform(self):
        mall_deliver(shop=self.shop, exchange=self.exchange(), actor=self.actor)


class ExchangeCancelView(ExchangeActionView):
    success_message = gettext_lazy("Exchange cancelled: the points and the stock were given back.")

    def perform(self):
        exchange = self.exchange()
        form = CancelForm(self.request.POST)
        if not form.is_valid():
            raise InvalidExchange(_("The reason has at most 150 characters."))
        mall_cancel(shop=self.shop, exchange=exchange, reason=form.cleaned_data["reason"], actor=self.actor)
