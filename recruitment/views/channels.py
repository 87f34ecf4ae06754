"""Dashboard pages of channels (entry points): the list with each channel's figures, the editor, a channel's page
(link, QR code, downloads, the last 30 days) and its pause/resume action, and the QR code and poster downloads.

Everything here needs Perm.RECRUITMENT_MANAGE (owners, admins and marketers; not clerks or analysts)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, TemplateView

from shops.dashboard import ServiceActionView, ShopStaffMixin
from shops.models import Shop
from shops.roles import Perm
from shops.views import FieldErrorMixin

from .. import stats
from ..channels import channel_create, channel_set_active, channel_update
from ..errors import FontMissing, InvalidChannel
from ..forms import ChannelForm
from ..links import channel_url
from ..models import Channel, ChannelKind
from ..selectors import channel_get, channel_links, channel_list, channel_tags, channel_welcome_templates
from . import printing
from .words import ChannelStatus, channel_status

PAGE_SIZE = 50
DAYS_SHOWN = 30


def channels_url(shop: Shop) -> str:
    return reverse("dashboard:channels", args=[shop.slug])


def channel_page_url(shop: Shop, channel: Channel) -> str:
    return reverse("dashboard:channel", args=[shop.slug, channel.pk])


def public_url(channel: Channel) -> str:
    """The channel's address for shoppers ("" for the join-on-purchase channel, which has no page)."""
    return "" if channel.kind == ChannelKind.PURCHASE else channel_url(channel.code)


def percent(ratio: float | None) -> float | None:
    return None if ratio is None else 100 * ratio


# --- The list ---------------------------------------------------------------------------------------------------


class ChannelListView(ShopStaffMixin, TemplateView):
    permission = Perm.RECRUITMENT_MANAGE
    template_name = "recruitment/channel_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = Paginator(channel_list(shop=self.shop), PAGE_SIZE).get_page(self.request.GET.get("page"))
        channels = list(page.object_list)
        figures = stats.channels_figures(shop=self.shop, channel_ids=[c.pk for c in channels])
        base = channels_url(self.shop) + "?"
        rows = []
        for channel in channels:
            status = channel_status(channel)
            rows.append(
                {
                    "channel": channel,
                    "url": public_url(channel),
                    "status": status,
                    "status_label": ChannelStatus.LABELS[status],
                    "figures": figures[channel.pk],
                    "conversion": percent(figures[channel.pk].conversion),
                }
            )
        context.update(
            page_obj=page,
            rows=rows,
            prev_url=f"{base}page={page.previous_page_number()}" if page.has_previous() else "",
            next_url=f"{base}page={page.next_page_number()}" if page.has_next() else "",
        )
        return context


# --- The editor -------------------------------------------------------------------------------------------------


class ChannelCreateView(ShopStaffMixin, FieldErrorMixin, FormView):
    """The editor. Each field the service refuses shows its own message (InvalidChannel's details)."""

    permission = Perm.RECRUITMENT_MANAGE
    template_name = "recruitment/channel_form.html"
    form_class = ChannelForm
    channel: Channel | None = None
    coupon_ids: tuple[int, ...] | list[int] = ()
    tag_ids: tuple[int, ...] | list[int] = ()

    def get_form_kwargs(self):
        return {
            **super().get_form_kwargs(),
            "shop": self.shop,
            "channel": self.channel,
            "keep_coupons": self.coupon_ids,
        }

    def get_initial(self):
        if self.channel is None:
            return {"kind": ChannelKind.QR, "welcome_points": 0}
        return ChannelForm.initial_for(self.channel, coupon_ids=self.coupon_ids, tag_ids=self.tag_ids)

    def get_context_data(self, **kwargs):
        return super().get_context_data(channel=self.channel, **kwargs)

    def error_field(self, form, exc):
        return None  # the details went to their fields (perform); the message sums them up above the form

    def perform(self, form):
        data = form.channel_input()
        try:
            if self.channel is None:
                self.channel = channel_create(shop=self.shop, actor=self.actor, data=data)
            else:
                channel_update(shop=self.shop, actor=self.actor, channel=self.channel, data=data)
        except InvalidChannel as exc:
            for name, message in exc.details.items():
                form.add_error(name if name in form.fields else None, message)
            raise
        self.success_message = _("Channel %(name)s saved.") % {"name": data.name}

    def get_success_url(self):
        return channel_page_url(self.shop, self.channel)


class ChannelEditView(ChannelCreateView):
    def load(self):
        self.channel = channel_get(shop=self.shop, pk=self.kwargs["pk"])
        coupons, tags = channel_links(shop=self.shop, channel_ids=[self.channel.pk])
        self.coupon_ids, self.tag_ids = coupons[self.channel.pk], tags[self.channel.pk]

    def get(self, request, *args, **kwargs):
        self.load()
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.load()
        return super().post(request, *args, **kwargs)


# --- A channel's page -------------------------------------------------------------------------------------------


def _bar(value: int, top: int) -> int:
    """A bar's width in percent of the largest value shown (at least 1 % for a non-zero value, so it shows)."""
    return max(1, round(100 * value / top)) if value and top else 0


class ChannelDetailView(ShopStaffMixin, TemplateView):
    permission = Perm.RECRUITMENT_MANAGE
    template_name = "recruitment/channel_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        channel = channel_get(shop=self.shop, pk=self.kwargs["pk"])
        status = channel_status(channel)
        totals = stats.channels_figures(shop=self.shop, channel_ids=[channel.pk])[channel.pk]
        daily = stats.channel_daily(shop=self.shop, channel=channel, days=DAYS_SHOWN)
        top = max((f.visits for _day, f in daily), default=0) or max((f.joins for _day, f in daily), default=0)
        days = [
            {"day": day, "figures": f, "visits_bar": _bar(f.visits, top), "joins_bar": _bar(f.joins, top)}
            for day, f in reversed(daily)  # newest first
        ]
        context.update(
            channel=channel,
            url=public_url(channel),
            status=status,
            status_label=ChannelStatus.LABELS[status],
            totals=totals,
            conversion=percent(totals.conversion),
            days=days,
            days_shown=DAYS_SHOWN,
            welcome_templates=channel_welcome_templates(shop=self.shop, channel=channel),
            tags=channel_tags(shop=self.shop, channel=channel),
            benefits=[line for line in channel.benefits.splitlines() if line.strip()],
            poster_sizes=printing.POSTER_SIZES,
        )
        return context


class ChannelActiveView(ServiceActionView):
    """POST active=0 to pause a channel, active=1 to resume it; back to the channel's page."""

    permission = Perm.RECRUITMENT_MANAGE
    success_url_name = "channels"  # post() sends to the channel's page instead

    def perform(self):
        active = self.request.POST.get("active") == "1"
        channel_set_active(shop=self.shop, actor=self.actor, channel=self.channel, active=active)
        self.success_message = (
            _("Channel resumed: shoppers can join through it again.")
            if active
            else _("Channel paused: its page says so and nobody joins through it until you resume it.")
        )

    def post(self, request, *args, **kwargs):
        self.channel = channel_get(shop=self.shop, pk=kwargs["pk"])
        super().post(request, *args, **kwargs)  # the service call and its message
        return redirect(channel_page_url(self.shop, self.channel))


# --- Downloads --------------------------------------------------------------------------------------------------


class ChannelDownloadView(ShopStaffMixin, View):
    """A file of a channel with a public page (the join-on-purchase channel has none: 404)."""

    permission = Perm.RECRUITMENT_MANAGE

    def channel(self) -> Channel:
        return printing.printable_channel(shop=self.shop, pk=self.kwargs["pk"])

    attachment = staticmethod(printing.attachment)


class ChannelQrSvgView(ChannelDownloadView):
    def get(self, request, *args, **kwargs):
        channel = self.channel()
        return self.attachment(printing.qr_svg(channel), "image/svg+xml", printing.download_name(channel, ".svg"))


class ChannelQrPngView(ChannelDownloadView):
    def get(self, request, *args, **kwargs):
        channel = self.channel()
        return self.attachment(printing.qr_png(channel), "image/png", printing.download_name(channel, ".png"))


class ChannelPosterView(ChannelDownloadView):
    """GET ?size=A4 (the default) or A5. Without a CJK font on the server: back to the channel's page, saying which
    package to install."""

    def get(self, request, *args, **kwargs):
        channel = self.channel()
        size = request.GET.get("size", printing.DEFAULT_POSTER_SIZE).upper()
        if size not in printing.POSTER_SIZES:
            raise Http404
        try:
            poster = printing.poster_png(shop=self.shop, channel=channel, size=size)
        except FontMissing:
            messages.error(
                request,
                _(
                    "The poster cannot be drawn: the server has no Chinese font. Ask your administrator to install "
                    "the Debian package %(package)s (or to set CJK_FONT_PATH to a Chinese font file)."
                )
                % {"package": printing.DEBIAN_FONT_PACKAGES[0]},
            )
            return redirect(channel_page_url(self.shop, channel))
        return self.attachment(poster, "image/png", printing.download_name(channel, f"-poster-{size}.png"))
