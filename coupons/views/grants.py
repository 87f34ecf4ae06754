"""Grants: a template granted to a segment (a GrantJob that a Celery task runs in chunks; its page follows the
progress while it runs, as the imports page does) or to one member from their profile, with a reason; and the
member's coupons section of the profile (coupons.templatetags.member_coupons renders it there, so members does
not import coupons). Granting needs Perm.COUPONS_GRANT; the section is read with Perm.MEMBERS_VIEW, as the
profile is.

Each grant form carries a one-time idempotency key: the same form submitted twice queues one job or issues one
coupon."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView

from members.models import Member, MemberStatus
from members.phones import mask_phone
from members.selectors import member_get_live
from shops.dashboard import ShopStaffMixin
from shops.errors import ApplicationError
from shops.models import Shop
from shops.roles import Perm

from ..codes import code_display
from ..errors import IdempotencyConflict
from ..forms.grants import KeyedForm, MemberGrantForm, SegmentGrantForm
from ..grants import coupon_grant_member, grant_create
from ..models import CouponStatus, GrantJob, GrantStatus
from ..selectors import coupon_counts, grant_get, grant_list, member_coupons

JOBS_PAGE_SIZE = 50
LATEST_COUPONS = 10
REUSED_FORM_MESSAGE = gettext_lazy(
    "This form was already used for another grant. Check what was granted, then submit again to make a new grant."
)


def _reused(view, form: KeyedForm):
    """The form was submitted before with other values (kept open after granting, then changed): it gets a fresh
    key, so submitting again is a deliberate new grant."""
    form = form.renewed()
    form.is_valid()
    form.add_error(None, REUSED_FORM_MESSAGE)
    return view.form_invalid(form)


def job_running(job: GrantJob) -> bool:
    return job.status in (GrantStatus.PENDING, GrantStatus.RUNNING)


def job_percent(job: GrantJob) -> int:
    """How far the job is, 0-100. Members who joined the segment after the count make done pass total: capped."""
    if job.status == GrantStatus.DONE:
        return 100
    if not job.members_total:
        return 0
    return min(100, job.members_done * 100 // job.members_total)


def grant_url(shop: Shop, job: GrantJob) -> str:
    return reverse("dashboard:coupon_grant", args=[shop.slug, job.pk])


class GrantsView(ShopStaffMixin, FormView):
    """The segment grant form and the shop's grant jobs, newest first."""

    permission = Perm.COUPONS_GRANT
    template_name = "coupons/grant_list.html"
    form_class = SegmentGrantForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "shop": self.shop}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = Paginator(grant_list(shop=self.shop), JOBS_PAGE_SIZE).get_page(self.request.GET.get("page"))
        jobs = list(page.object_list)
        for job in jobs:
            job.percent = job_percent(job)
        context.update(page_obj=page, is_paginated=page.has_other_pages(), jobs=jobs)
        return context

    def form_valid(self, form):
        data = form.cleaned_data
        template, segment = data["template"], data["segment"]
        try:
            job = grant_create(
                shop=self.shop,
                actor=self.actor,
                template=template,
                segment=segment,
                idempotency_key=data["idempotency_key"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return self.form_invalid(form)
        if job.template_id != template.pk or job.segment_id != segment.pk:
            return _reused(self, form)
        messages.success(
            self.request,
            _("%(coupon)s is being granted to the members of %(segment)s. This page shows the progress.")
            % {"coupon": template.name, "segment": segment.name},
        )
        return redirect(grant_url(self.shop, job))


class GrantView(ShopStaffMixin, TemplateView):
    """One grant job: its figures, reloaded every few seconds while it runs."""

    permission = Perm.COUPONS_GRANT
    template_name = "coupons/grant_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        job = grant_get(shop=self.shop, pk=self.kwargs["pk"])
        context.update(job=job, running=job_running(job), percent=job_percent(job))
        return context


# --- One member ---------------------------------------------------------------------------------------------------


def member_coupons_section(*, shop: Shop, member: Member, perms) -> dict:
    """What the profile's coupons section shows: the count of each status, the latest coupons (codes only to staff
    who redeem, who see them at the till anyway) and whether to offer the grant button."""
    counts = coupon_counts(shop=shop, member=member)
    latest = list(member_coupons(shop=shop, member=member)[:LATEST_COUPONS])
    show_codes = Perm.COUPONS_REDEEM in perms
    for coupon in latest:
        coupon.code_shown = code_display(coupon.code) if show_codes else ""
    return {
        "coupon_counts": [(status, label, counts[status]) for status, label in CouponStatus.choices],
        "coupons_total": sum(counts.values()),
        "latest_coupons": latest,
        "can_grant": Perm.COUPONS_GRANT in perms and member.status == MemberStatus.ACTIVE,
    }


class MemberGrantView(ShopStaffMixin, FormView):
    """Grant one coupon to a member (as a grant, or as compensation, which ignores the audience and the limit),
    with a reason for the audit log. Back to the profile with the coupon's code."""

    permission = Perm.COUPONS_GRANT
    template_name = "coupons/grant_member.html"
    form_class = MemberGrantForm
    member: Member

    def dispatch_member(self):
        self.member = member_get_live(shop=self.shop, pk=self.kwargs["pk"])

    def get(self, request, *args, **kwargs):
        self.dispatch_member()
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.dispatch_member()
        return super().post(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "shop": self.shop}

    def get_context_data(self, **kwargs):
        self.member.masked_phone = mask_phone(self.member.phone)
        counts = coupon_counts(shop=self.shop, member=self.member)
        return super().get_context_data(member=self.member, coupons_available=counts[CouponStatus.AVAILABLE], **kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        template, source, note = data["template"], data["source"], data["note"]
        try:
            issued = coupon_grant_member(
                shop=self.shop,
                actor=self.actor,
                member=self.member,
                template=template,
                source=source,
                idempotency_key=data["idempotency_key"],
                note=note,
            )
        except IdempotencyConflict:
            return _reused(self, form)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return self.form_invalid(form)
        values = {"code": code_display(issued.coupon.code), "coupon": template.name}
        if issued.created:
            messages.success(self.request, _("Coupon %(code)s (%(coupon)s) granted.") % values)
        else:
            messages.info(self.request, _("This grant was already made: coupon %(code)s, not issued twice.") % values)
        return redirect(reverse("dashboard:member", args=[self.shop.slug, self.member.pk]))
