"""Dashboard pages of coupon templates: the list with each template's figures, the editor with its live preview,
a template's page (figures, status actions, codes to generate, import and download) and the tier gifts.

Reading needs Perm.COUPONS_REDEEM (clerks look coupons up at the till), changing templates and tier gifts
Perm.RULES_CHANGE, and making or downloading bearer codes Perm.COUPONS_GRANT (every code is a coupon handed out).

The coupon card (templates/coupons/_coupon_card.html) is filled in by coupons.views.words.coupon_card, for any page
showing a template, and by static/coupons/preview.js in the editor, from the same phrases (card_texts)."""

import re
from collections import defaultdict

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.generic import FormView, TemplateView

from members.exports import csv_pieces
from members.tags import tag_list
from shops.dashboard import ServiceActionView, ShopStaffMixin
from shops.errors import ApplicationError
from shops.ids import parse_id
from shops.models import Shop
from shops.roles import Perm
from shops.views import FieldErrorMixin
from tiers.selectors import tiers_of_shop

from ..codes import code_display
from ..errors import InvalidCodes, InvalidTemplate
from ..forms.templates import (
    CodesGenerateForm,
    CodesImportForm,
    TemplateFilterForm,
    TemplateForm,
    TierGiftForm,
)
from ..models import Audience, CouponStatus, CouponTemplate, TemplateStatus
from ..selectors import template_codes, template_get, templates_with_figures, tier_gift_list
from ..services import (
    TEMPLATE_FIELDS,
    codes_generate,
    codes_import,
    template_create,
    template_set_status,
    template_update,
)
from ..tier_gift_services import tier_gift_add, tier_gift_remove
from .words import card_texts, coupon_card, redemption_rate, value_in_words

PAGE_SIZE = 50
IMPORT_ERRORS_SHOWN = 200
CSV_ROWS_PER_CHUNK = 2000
BATCH = re.compile(r"^[0-9a-f]{12}$")


def templates_url(shop: Shop) -> str:
    return reverse("dashboard:coupon_templates", args=[shop.slug])


def template_url(shop: Shop, template: CouponTemplate) -> str:
    return reverse("dashboard:coupon_template", args=[shop.slug, template.pk])


# --- The list ---------------------------------------------------------------------------------------------------


class TemplateListView(ShopStaffMixin, TemplateView):
    permission = Perm.COUPONS_REDEEM
    template_name = "coupons/template_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filter_form = TemplateFilterForm(self.request.GET)
        status = filter_form.cleaned_data["status"] if filter_form.is_valid() else ""
        page = Paginator(templates_with_figures(shop=self.shop, status=status), PAGE_SIZE).get_page(
            self.request.GET.get("page")
        )
        base = templates_url(self.shop) + (f"?status={status}&" if status else "?")
        context.update(
            filter_form=filter_form,
            status=status,
            page_obj=page,
            rows=[(t, value_in_words(shop=self.shop, template=t), redemption_rate(t)) for t in page.object_list],
            prev_url=f"{base}page={page.previous_page_number()}" if page.has_previous() else "",
            next_url=f"{base}page={page.next_page_number()}" if page.has_next() else "",
            can_edit=Perm.RULES_CHANGE in self.perms,
        )
        return context


# --- The editor -------------------------------------------------------------------------------------------------


class TemplateCreateView(ShopStaffMixin, FieldErrorMixin, FormView):
    """The editor. Each field the service refuses shows its own message (InvalidTemplate's details), the summary
    above the form."""

    permission = Perm.RULES_CHANGE
    template_name = "coupons/template_form.html"
    form_class = TemplateForm
    coupon_template: CouponTemplate | None = None

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "shop": self.shop}

    def get_initial(self):
        if self.coupon_template is None:
            return dict(TemplateForm.DEFAULTS)
        return TemplateForm.initial_for(self.coupon_template)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        shown = self.coupon_template or CouponTemplate(
            shop=self.shop, **{k: v for k, v in TemplateForm.DEFAULTS.items() if k in TEMPLATE_FIELDS}
        )
        texts = card_texts(self.shop)
        context.update(
            coupon_template=self.coupon_template,
            card=coupon_card(shop=self.shop, template=shown, texts=texts),
            texts=texts,
        )
        return context

    def error_field(self, form, exc):
        return None  # the details went to their fields (perform); the message sums them up above the form

    def perform(self, form):
        data = form.template_data()
        try:
            if self.coupon_template is None:
                self.coupon_template = template_create(shop=self.shop, actor=self.actor, data=data)
            else:
                template_update(shop=self.shop, actor=self.actor, template=self.coupon_template, data=data)
        except InvalidTemplate as exc:
            for name, message in exc.details.items():
                form.add_error(name if name in form.fields else None, message)
            raise
        self.success_message = _("Coupon %(name)s saved.") % {"name": data["name"]}

    def get_success_url(self):
        return template_url(self.shop, self.coupon_template)


class TemplateEditView(TemplateCreateView):
    def load(self):
        self.coupon_template = template_get(shop=self.shop, pk=self.kwargs["pk"])

    def get(self, request, *args, **kwargs):
        self.load()
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.load()
        return super().post(request, *args, **kwargs)


# --- A template's page ------------------------------------------------------------------------------------------


def _audience_in_words(shop: Shop, template: CouponTemplate) -> str:
    if template.audience == Audience.TIERS:
        names = tiers_of_shop(shop=shop).filter(pk__in=template.audience_tiers).values_list("name", flat=True)
    elif template.audience == Audience.TAGS:
        names = tag_list(shop=shop).filter(pk__in=template.audience_tags).values_list("name", flat=True)
    elif template.audience == Audience.SEGMENT:
        segment = template.audience_segment
        names = [segment.name] if segment is not None else [_("(deleted segment)")]
    elif template.audience == Audience.NEW_MEMBERS:
        return ngettext(
            "Members who joined in the last %(days)d day",
            "Members who joined in the last %(days)d days",
            template.new_member_days,
        ) % {"days": template.new_member_days}
    else:
        return template.get_audience_display()
    return f"{template.get_audience_display()}: {_(', ').join(names)}"


class TemplateDetailView(ShopStaffMixin, TemplateView):
    permission = Perm.COUPONS_REDEEM
    template_name = "coupons/template_detail.html"
    coupon_template: CouponTemplate

    def load(self):
        self.coupon_template = templates_with_figures(shop=self.shop).get(pk=self.kwargs["pk"])

    def get(self, request, *args, **kwargs):
        self.load()
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        template = self.coupon_template
        can_codes = Perm.COUPONS_GRANT in self.perms
        batch = self.request.GET.get("batch", "")
        context.update(
            coupon_template=template,
            words=value_in_words(shop=self.shop, template=template),
            rate=redemption_rate(template),
            card=coupon_card(shop=self.shop, template=template),
            audience=_audience_in_words(self.shop, template),
            can_edit=Perm.RULES_CHANGE in self.perms,
            can_codes=can_codes,
            batch=batch if BATCH.match(batch) else "",
        )
        if can_codes:
            context.setdefault("generate_form", CodesGenerateForm())
            context.setdefault("import_form", CodesImportForm())
            context["unassigned"] = template_codes(shop=self.shop, template=template).count()
        return context

    def redirect_to_batch(self, batch: str):
        return redirect(f"{template_url(self.shop, self.coupon_template)}?batch={batch}")


class CodesGenerateView(TemplateDetailView):
    permission = Perm.COUPONS_GRANT
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        self.load()
        form = CodesGenerateForm(request.POST)
        if form.is_valid():
            count = form.cleaned_data["count"]
            try:
                batch = codes_generate(shop=self.shop, actor=self.actor, template=self.coupon_template, count=count)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                done = ngettext("%(n)d code generated.", "%(n)d codes generated.", count) % {"n": count}
                messages.success(request, done)
                return self.redirect_to_batch(batch)
        return self.render_to_response(self.get_context_data(generate_form=form))


class CodesImportView(TemplateDetailView):
    permission = Perm.COUPONS_GRANT
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        self.load()
        form = CodesImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(import_form=form))
        try:
            result = codes_import(shop=self.shop, actor=self.actor, template=self.coupon_template, codes=form.codes)
        except InvalidCodes as exc:
            form.add_error(None, exc.message)
            errors = form.line_errors(exc.details.get("errors", []))
            context = self.get_context_data(
                import_form=form,
                import_errors=errors[:IMPORT_ERRORS_SHOWN],
                import_errors_more=max(0, len(errors) - IMPORT_ERRORS_SHOWN),
            )
            return self.render_to_response(context)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return self.render_to_response(self.get_context_data(import_form=form))
        n = result["imported"]
        messages.success(request, ngettext("%(n)d code imported.", "%(n)d codes imported.", n) % {"n": n})
        return self.redirect_to_batch(result["batch"])


class CodesDownloadView(ShopStaffMixin, View):
    """GET: the template's codes no member holds yet as CSV; ?batch=<id>: the codes of one generate or import."""

    permission = Perm.COUPONS_GRANT

    def get(self, request, *args, **kwargs):
        template = template_get(shop=self.shop, pk=kwargs["pk"])
        batch = request.GET.get("batch", "")
        if batch and not BATCH.match(batch):
            raise Http404
        codes = template_codes(shop=self.shop, template=template, batch=batch).values_list("code", "status")
        labels = {value: str(label) for value, label in CouponStatus.choices}
        rows = ((code_display(code), labels[status]) for code, status in codes.iterator(chunk_size=CSV_ROWS_PER_CHUNK))
        header = [_("Code"), _("Status")]
        response = StreamingHttpResponse(csv_pieces(header, rows), content_type="text/csv; charset=utf-8")
        name = f"coupon-{template.pk}-{batch or 'unassigned'}-codes.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        add_never_cache_headers(response)  # bearer codes: no copies in shared caches
        return response


class TemplateStatusView(ServiceActionView):
    """POST status=paused, active or ended; back to the template's page."""

    permission = Perm.RULES_CHANGE
    success_url_name = "coupon_templates"  # post() sends to the template's page instead
    MESSAGES = {
        TemplateStatus.PAUSED: gettext_lazy("Coupon paused: no new coupons are issued; those issued stay usable."),
        TemplateStatus.ACTIVE: gettext_lazy("Coupon resumed."),
        TemplateStatus.ENDED: gettext_lazy("Coupon ended: no new coupons are issued; those issued stay usable."),
    }

    def perform(self):
        status = self.request.POST.get("status", "")
        if status not in self.MESSAGES:
            raise InvalidTemplate(_("Choose pause, resume or end."))
        template_set_status(shop=self.shop, actor=self.actor, template=self.coupon_template, status=status)
        self.success_message = self.MESSAGES[status]

    def post(self, request, *args, **kwargs):
        self.coupon_template = template_get(shop=self.shop, pk=kwargs["pk"])
        super().post(request, *args, **kwargs)  # the service call and its message
        return redirect(template_url(self.shop, self.coupon_template))


# --- Tier gifts -------------------------------------------------------------------------------------------------


def _gift_form_ids(tier_pk) -> str:
    """Each tier has its own add form on the page: ids of its fields name the tier."""
    return f"id_tier{tier_pk}_%s"


class TierGiftsView(ShopStaffMixin, FieldErrorMixin, FormView):
    """Each tier of the ladder with the coupons it gives, and a form per tier to add one (they post here)."""

    permission = Perm.RULES_CHANGE
    template_name = "coupons/tier_gifts.html"
    form_class = TierGiftForm
    success_message = gettext_lazy("Tier gift added.")

    def get_form_kwargs(self):
        self.tiers = list(tiers_of_shop(shop=self.shop))
        kwargs = {**super().get_form_kwargs(), "shop": self.shop, "tiers": self.tiers}
        posted = self.request.POST.get("tier", "")
        if parse_id(posted) is not None:
            kwargs["auto_id"] = _gift_form_ids(posted)
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        posted = context["form"]
        gifts = defaultdict(list)
        for gift in tier_gift_list(shop=self.shop):
            gifts[gift.tier_id].append((gift, value_in_words(shop=self.shop, template=gift.template)))
        rows = []
        for tier in self.tiers:
            if posted.is_bound and posted["tier"].value() == str(tier.pk):
                form = posted
            else:
                form = TierGiftForm(
                    shop=self.shop, tiers=self.tiers, initial={"tier": tier.pk}, auto_id=_gift_form_ids(tier.pk)
                )
            rows.append((tier, gifts[tier.pk], form))
        # A post for a tier not on the page (removed meanwhile, or another shop's): its errors go on top.
        lost = posted.is_bound and not any(form is posted for _tier, _gifts, form in rows)
        context.update(
            rows=rows,
            lost_errors=[error for errors in posted.errors.values() for error in errors] if lost else [],
            has_templates=bool(posted.templates),
        )
        return context

    def perform(self, form):
        data = form.cleaned_data
        tier_gift_add(
            shop=self.shop,
            actor=self.actor,
            tier=data["tier"],
            occasion=data["occasion"],
            template=data["template"],
            quantity=data["quantity"],
        )

    def get_success_url(self):
        return reverse("dashboard:coupon_tier_gifts", args=[self.shop.slug])


class TierGiftRemoveView(ServiceActionView):
    permission = Perm.RULES_CHANGE
    success_message = gettext_lazy("Tier gift removed. Coupons already given stay with their members.")
    success_url_name = "coupon_tier_gifts"

    def perform(self):
        gift = tier_gift_list(shop=self.shop).get(pk=self.kwargs["pk"])
        tier_gift_remove(shop=self.shop, actor=self.actor, gift=gift)
