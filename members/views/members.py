"""The member list and profile: search, filters, keyset pages, masked phones, edit, freeze, erase, privacy export.

No personal data in URLs: a search (which may be a phone number) is POSTed, kept in the session under a short
random token and the list is shown at ?f=<token>. Conditions without personal data may travel as GET parameters,
so such a list can be bookmarked or shared. Phones are masked for everyone; revealing one is a POST, audited.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import phonenumbers
from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView, TemplateView

from shops.cache import optional_cache
from shops.dashboard import ShopStaffMixin
from shops.errors import ApplicationError
from shops.ids import parse_id
from shops.models import Shop
from shops.roles import Perm
from shops.services import audit_record

from .. import selectors, services
from ..filters import DEFAULT_SORT, InvalidFilter
from ..forms import FILTER_FIELDS, SORT_CHOICES, BulkTagForm, MemberEditForm, MemberSearchForm, MemberTagForm
from ..models import ConsentChannel, Member, MemberStatus, TagKind
from ..phones import mask_phone
from ..tags import member_tag_change, tag_apply, tag_get, tags_of_members
from ..timeline import member_data_export, member_timeline

FILTERS_SESSION_KEY = "member_filters"
SAVED_FILTERS = 20  # per session; the oldest search is forgotten first
REVEALED_SESSION_KEY = "member_phone_revealed"
COUNT_CACHE_SECONDS = 300
PAGE_SIZE = 50
SORTS = dict(SORT_CHOICES)


def phone_display(phone: str) -> str:
    """A full number as people write it: national format for China, international otherwise."""
    if not phone:
        return ""
    number = phonenumbers.parse(phone)
    if number.country_code == 86:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def with_masked_phones(members):
    for member in members:
        member.masked_phone = mask_phone(member.phone)
    return members


def _sort(value) -> str:
    return value if value in SORTS else DEFAULT_SORT


# --- The list's filter: from GET parameters, or from the session for a search --------------------------------


@dataclass
class ListFilter:
    form: MemberSearchForm
    definition: dict | None  # None: the form has errors
    query: str  # the query string that brings this filter back ("f=<token>" or the conditions), without sort/page
    expired: bool = False


def _save_filter(request, definition: dict) -> str:
    saved = request.session.get(FILTERS_SESSION_KEY, {})
    token = secrets.token_urlsafe(6)
    saved[token] = definition
    while len(saved) > SAVED_FILTERS:
        saved.pop(next(iter(saved)))  # dicts keep insertion order, so this is the oldest
    request.session[FILTERS_SESSION_KEY] = saved
    return token


def list_filter(request, shop: Shop, params: QueryDict) -> ListFilter:
    """The filter that `params` (a request's GET, or the query string a bulk action carries) stands for. A search
    text in GET parameters is ignored: searches only ever arrive through the session."""
    token = params.get("f", "")
    if token:
        definition = request.session.get(FILTERS_SESSION_KEY, {}).get(token)
        if definition is None:
            return ListFilter(MemberSearchForm(QueryDict(), shop=shop), {}, "", expired=True)
        data, query = MemberSearchForm.data_for(definition), QueryDict.fromkeys(["f"], token).urlencode()
    else:
        data = QueryDict(mutable=True)
        for name in FILTER_FIELDS:
            if values := [v for v in params.getlist(name) if v.strip()]:
                data.setlist(name, values)
        query = data.urlencode()
    form = MemberSearchForm(data, shop=shop)
    return ListFilter(form, form.definition() if form.is_valid() else None, query)


def list_url(shop: Shop, query: str = "", **params) -> str:
    extra = QueryDict(mutable=True)
    for name, value in params.items():
        if value not in (None, ""):
            extra[name] = str(value)
    parts = [part for part in (query, extra.urlencode()) if part]
    return reverse("dashboard:members", args=[shop.slug]) + ("?" + "&".join(parts) if parts else "")


def _count(shop: Shop, definition: dict, *, fresh: bool) -> int:
    """The number of matching members. The first page counts; the following pages of the same filter reuse that
    count for a few minutes, so walking a list of a million members does not count it again on every page."""
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    key = f"members:count:{shop.pk}:{digest}"
    if not fresh and (count := optional_cache.get(key)) is not None:
        return count
    count = selectors.member_count(shop=shop, definition=definition)
    optional_cache.set(key, count, COUNT_CACHE_SECONDS)
    return count


def _revealed(request, perms) -> int | None:
    """The member whose number was just revealed without JavaScript (shown once, on the next page)."""
    pk = request.session.pop(REVEALED_SESSION_KEY, None)
    return pk if Perm.MEMBERS_PHONE in perms else None


class MemberListView(ShopStaffMixin, TemplateView):
    permission = Perm.MEMBERS_VIEW
    template_name = "members/member_list.html"

    def get(self, request, *args, **kwargs):
        self.filter = list_filter(request, self.shop, request.GET)
        if self.filter.expired:
            messages.info(request, _("That search has expired. Please search again."))
        return self.render_to_response(self.get_context_data(sort=_sort(request.GET.get("sort"))))

    def post(self, request, *args, **kwargs):
        form = MemberSearchForm(request.POST, shop=self.shop)
        sort = _sort(request.POST.get("sort"))
        if not form.is_valid():
            self.filter = ListFilter(form, None, "")
            return self.render_to_response(self.get_context_data(sort=sort))
        definition = form.definition()
        if "q" in definition:
            query = QueryDict.fromkeys(["f"], _save_filter(request, definition)).urlencode()
        else:
            query = MemberSearchForm.data_for(definition).urlencode()
        return redirect(list_url(self.shop, query, sort=sort if sort != DEFAULT_SORT else None))

    def get_context_data(self, *, sort, **kwargs):
        context = super().get_context_data(**kwargs)
        definition, query = self.filter.definition, self.filter.query
        after, before = parse_id(self.request.GET.get("after")), parse_id(self.request.GET.get("before"))
        page, count, error = None, None, ""
        if definition is not None:
            try:
                page = selectors.member_page(
                    shop=self.shop, definition=definition, sort=sort, after=after, before=before, limit=PAGE_SIZE
                )
                count = _count(self.shop, definition, fresh=not (after or before))
            except InvalidFilter as exc:
                error = exc.message
        members = with_masked_phones(page.members) if page else []
        tags = tags_of_members(shop=self.shop, member_ids=[m.pk for m in members])
        revealed = _revealed(self.request, self.perms)
        for member in members:
            member.tag_names = tags[member.pk]
            member.full_phone = phone_display(member.phone) if member.pk == revealed else ""
        sort_param = sort if sort != DEFAULT_SORT else None
        context.update(
            form=self.filter.form,
            members=members,
            count=count,
            filter_error=error,
            sort=sort,
            sort_choices=SORT_CHOICES,
            filter_query=query,
            has_search="q" in (definition or {}),
            open_filters=bool(self.filter.form.errors) or self.filter.form.active_count() > 0,
            current_url=list_url(self.shop, query, sort=sort_param, after=after, before=before),
            export_query=urlsplit(list_url(self.shop, query, sort=sort_param)).query,
            next_url=list_url(self.shop, query, sort=sort_param, after=page.next_after)
            if page and page.next_after
            else "",
            prev_url=list_url(self.shop, query, sort=sort_param, before=page.prev_before)
            if page and page.prev_before
            else "",
        )
        if Perm.MEMBERS_CHANGE in self.perms and definition is not None:
            context["bulk_form"] = BulkTagForm(shop=self.shop, initial={"filter": query})
        return context


class BulkTagView(ShopStaffMixin, View):
    """Add a manual tag to (or remove it from) every member of the list the form was posted from."""

    permission = Perm.MEMBERS_CHANGE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = BulkTagForm(request.POST, shop=self.shop)
        if not form.is_valid():
            messages.error(request, _("Choose a manual tag and whether to add or remove it."))
            return redirect(list_url(self.shop, request.POST.get("filter", "")))
        query = form.cleaned_data["filter"]
        listed = list_filter(request, self.shop, QueryDict(query))
        if listed.expired or listed.definition is None:
            messages.error(request, _("That list has expired or has errors. Please filter again."))
            return redirect(list_url(self.shop))
        tag = tag_get(shop=self.shop, pk=form.cleaned_data["tag"])
        remove = form.cleaned_data["action"] == "remove"
        try:
            changed = tag_apply(shop=self.shop, tag=tag, actor=self.actor, definition=listed.definition, remove=remove)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            text = (
                _("Removed the tag %(tag)s from %(count)s members.")
                if remove
                else _("Added the tag %(tag)s to %(count)s members.")
            )
            messages.success(request, text % {"tag": tag.name, "count": changed})
        return redirect(list_url(self.shop, listed.query))


# --- One member -------------------------------------------------------------------------------------------------


class MemberMixin(ShopStaffMixin):
    """Views of one member (`pk` in the URL). `live_only`: erased members answer 404."""

    live_only = True

    def get_member(self) -> Member:
        if not hasattr(self, "_member"):
            get = selectors.member_get_live if self.live_only else selectors.member_get
            self._member = get(shop=self.shop, pk=self.kwargs["pk"])
        return self._member

    def profile_url(self) -> str:
        return reverse("dashboard:member", args=[self.shop.slug, self.kwargs["pk"]])


class MemberDetailView(MemberMixin, TemplateView):
    permission = Perm.MEMBERS_VIEW
    template_name = "members/member_detail.html"
    live_only = False  # an erased member's orders and figures stay, and so does the page

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        member = self.get_member()
        member.masked_phone = mask_phone(member.phone)
        revealed = _revealed(self.request, self.perms)
        tags = list(selectors.member_tag_list(shop=self.shop, member=member))
        consents = [
            (channel, label, getattr(member, f"consent_{channel}")) for channel, label in ConsentChannel.choices
        ]
        context.update(
            member=member,
            erased=member.status == MemberStatus.ERASED,
            full_phone=phone_display(member.phone) if revealed == member.pk else "",
            tags=tags,
            manual_tag_kind=TagKind.MANUAL,
            consents=consents,
            consent_history=selectors.member_consent_history(shop=self.shop, member=member)[:50],
            timeline=member_timeline(shop=self.shop, member=member, limit=50),
            referrer=member.referrer,
            scores=selectors.member_scores(shop=self.shop, member_ids=[member.pk]).get(member.pk),
        )
        if Perm.MEMBERS_CHANGE in self.perms and member.status != MemberStatus.ERASED:
            form = MemberTagForm(shop=self.shop)
            present = {tag.pk for tag in tags}
            form.fields["tag"].choices = [(pk, name) for pk, name in form.fields["tag"].choices if pk not in present]
            context["tag_form"] = form
        return context


class MemberPhoneView(MemberMixin, View):
    """Reveal one member's full number to a role that may see it, and record that it was seen."""

    permission = Perm.MEMBERS_PHONE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        member = self.get_member()
        phone = services.member_phone_reveal(shop=self.shop, member=member, actor=self.actor)
        if request.headers.get("Accept", "").startswith("application/json"):
            response = JsonResponse({"phone": phone_display(phone)})
        else:
            request.session[REVEALED_SESSION_KEY] = member.pk
            target = request.POST.get("next", "")
            safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
            response = redirect(target if safe else self.profile_url())
        response["Cache-Control"] = "no-store"
        return response


class MemberEditView(MemberMixin, FormView):
    permission = Perm.MEMBERS_CHANGE
    template_name = "members/member_edit.html"
    form_class = MemberEditForm

    def get_initial(self):
        return MemberEditForm.initial_for(self.get_member())

    def get_context_data(self, **kwargs):
        return super().get_context_data(member=self.get_member(), **kwargs)

    def form_valid(self, form):
        try:
            services.member_update(
                shop=self.shop, member=self.get_member(), actor=self.actor, source="dashboard", **form.changes()
            )
        except ApplicationError as exc:
            # Errors name the field they are about in `details` (external_id...): show them there.
            field = next((name for name in exc.details if name in form.fields), None)
            form.add_error(field, exc.message)
            return self.form_invalid(form)
        messages.success(self.request, _("Profile saved."))
        return redirect(self.profile_url())


class MemberFreezeView(MemberMixin, View):
    """POST frozen=1 to freeze, frozen=0 to unfreeze."""

    permission = Perm.MEMBERS_CHANGE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        frozen = request.POST.get("frozen") == "1"
        services.member_set_frozen(shop=self.shop, member=self.get_member(), actor=self.actor, frozen=frozen)
        messages.success(request, _("Member frozen.") if frozen else _("Member unfrozen."))
        return redirect(self.profile_url())


class MemberEraseView(MemberMixin, TemplateView):
    """A confirmation page that says what erasure does; its POST erases. Erasure answers a shopper's request to
    delete their data and cannot be undone, so it is for the roles that handle privacy requests (those that may
    export a member's data), not every role that edits members."""

    permission = Perm.MEMBERS_EXPORT
    template_name = "members/member_erase.html"

    def get_context_data(self, **kwargs):
        member = self.get_member()
        member.masked_phone = mask_phone(member.phone)
        return super().get_context_data(member=member, **kwargs)

    def post(self, request, *args, **kwargs):
        member = self.get_member()
        if request.POST.get("confirm") != "erase":
            return redirect(reverse("dashboard:member_erase", args=[self.shop.slug, member.pk]))
        services.member_erase(shop=self.shop, member=member, actor=self.actor)
        messages.success(request, _("The member's personal data was erased. Orders and figures remain, anonymous."))
        return redirect(self.profile_url())


class MemberExportView(MemberMixin, View):
    """The member's data as a JSON download (a privacy access request), recorded in the audit log."""

    permission = Perm.MEMBERS_EXPORT
    http_method_names = ["post"]
    live_only = False

    def post(self, request, *args, **kwargs):
        member = self.get_member()
        data = member_data_export(shop=self.shop, member=member)
        audit_record(shop=self.shop, actor=self.actor, action="member.data_export", obj=member)
        body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="member-{member.pk}.json"'
        response["Cache-Control"] = "no-store"
        return response


class MemberTagAddView(MemberMixin, View):
    permission = Perm.MEMBERS_CHANGE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        member = self.get_member()
        form = MemberTagForm(request.POST, shop=self.shop)
        if not form.is_valid():
            messages.error(request, _("Choose a manual tag."))
            return redirect(self.profile_url())
        tag = tag_get(shop=self.shop, pk=form.cleaned_data["tag"])
        member_tag_change(shop=self.shop, tag=tag, member=member, actor=self.actor)
        messages.success(request, _("Tagged %(tag)s.") % {"tag": tag.name})
        return redirect(self.profile_url())


class MemberTagRemoveView(MemberMixin, View):
    permission = Perm.MEMBERS_CHANGE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        member = self.get_member()
        tag = tag_get(shop=self.shop, pk=self.kwargs["tag_pk"])
        if tag.kind != TagKind.MANUAL:
            messages.error(request, _("A rule tag follows its rule; it cannot be removed by hand."))
        else:
            member_tag_change(shop=self.shop, tag=tag, member=member, actor=self.actor, remove=True)
            messages.success(request, _("Removed the tag %(tag)s.") % {"tag": tag.name})
        return redirect(self.profile_url())
