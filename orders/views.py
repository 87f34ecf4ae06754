"""Dashboard pages of orders: the list (newest first, keyset pages, status and date filters, lookup by order number)
and one order with its items and refunds. Members' phones appear masked."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from members.phones import mask_phone
from shops.dashboard import ShopStaffMixin
from shops.extensions import ORDER_PAGE_SECTION, implementations
from shops.forms import Form
from shops.ids import parse_id
from shops.roles import Perm
from shops.time import days_bounds

from . import selectors
from .models import OrderStatus

PAGE_SIZE = 50


class OrderFilterForm(Form):
    number = forms.CharField(label=_("Order number"), max_length=64, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=[("", _("All")), *OrderStatus.choices], required=False)
    paid_from = forms.DateField(label=_("Paid from"), required=False, widget=forms.DateInput({"type": "date"}))
    paid_to = forms.DateField(label=_("Paid until"), required=False, widget=forms.DateInput({"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("paid_from") and cleaned.get("paid_to") and cleaned["paid_from"] > cleaned["paid_to"]:
            self.add_error("paid_to", _("Must not be before the first day."))
        return cleaned


def order_page_sections(*, shop, order) -> list[dict]:
    """The sections that apps above orders add to the order page (extension point ORDER_PAGE_SECTION), in their
    order: each gives {"title", "template", "context"}, or None for nothing to show."""
    sections = (section(shop=shop, order=order) for section in implementations(ORDER_PAGE_SECTION))
    return [section for section in sections if section]


def _with_masked_phones(orders):
    for order in orders:
        order.masked_phone = mask_phone(order.member.phone) if order.member else ""
    return orders


class OrderListView(ShopStaffMixin, TemplateView):
    permission = Perm.ORDERS_VIEW
    template_name = "orders/order_list.html"

    def get(self, request, *args, **kwargs):
        form = OrderFilterForm(request.GET)
        number = request.GET.get("number", "").strip()
        if number and form.is_valid():
            try:
                order = selectors.order_get_by_external_id(shop=self.shop, external_id=number)
            except ObjectDoesNotExist:
                messages.error(request, _("No order with the number %(number)s.") % {"number": number})
            else:
                return redirect("dashboard:order", shop_slug=self.shop.slug, pk=order.pk)
        return self.render_to_response(self.get_context_data(form=form))

    def get_context_data(self, *, form, **kwargs):
        context = super().get_context_data(**kwargs)
        page = None
        query = QueryDict(mutable=True)
        if form.is_valid():
            data = form.cleaned_data
            # days in the shop's time zone; "until" includes its whole day
            start, end = days_bounds(self.shop, data["paid_from"], data["paid_to"])
            page = selectors.order_page(
                shop=self.shop,
                status=data["status"],
                paid_from=start,
                paid_until=end,
                after=parse_id(self.request.GET.get("after")),
                before=parse_id(self.request.GET.get("before")),
                limit=PAGE_SIZE,
            )
            for name in ("status", "paid_from", "paid_to"):
                if data[name]:
                    query[name] = str(data[name])
        base = reverse("dashboard:orders", args=[self.shop.slug]) + "?" + (query.urlencode() + "&" if query else "")
        context.update(
            form=form,
            orders=_with_masked_phones(page.orders) if page else [],
            next_url=f"{base}after={page.next_after}" if page and page.next_after else "",
            prev_url=f"{base}before={page.prev_before}" if page and page.prev_before else "",
            filtered=bool(query),
        )
        return context


class OrderDetailView(ShopStaffMixin, TemplateView):
    permission = Perm.ORDERS_VIEW
    template_name = "orders/order_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        order = selectors.order_get(shop=self.shop, pk=self.kwargs["pk"])
        [order] = _with_masked_phones([order])
        items = list(selectors.order_items(shop=self.shop, order=order))
        for item in items:
            item.subtotal = item.unit_price * item.quantity
        context.update(
            order=order,
            items=items,
            refunds=selectors.order_refunds(shop=self.shop, order=order),
            net=order.amount - order.refunded_amount,
            sections=order_page_sections(shop=self.shop, order=order),
        )
        return context
