"""Segments: saved member filters with their last count, a live count while editing, and a link to their list."""

from django.http import JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.generic import FormView, TemplateView

from shops.dashboard import ServiceActionView, ShopStaffMixin
from shops.extensions import MEMBER_FILTER_KEY, by_key
from shops.rest.parsers import TooDeep, json_loads_bounded
from shops.roles import Perm
from shops.views import FormServiceMixin

from ..filters import InvalidFilter
from ..forms import FILTER_FIELDS, MemberFilterForm, SegmentForm
from ..segments import segment_count, segment_delete, segment_get, segment_list, segment_save

MAX_DEFINITION_BYTES = 20_000


def members_url(shop, definition: dict) -> str | None:
    """The member list showing a definition (segments hold no search text, so their conditions may be in a URL);
    None when the list's form cannot hold one of its conditions (an app's own filter key, such as analytics' RFM
    cells): a list without that condition would show members the segment does not hold."""
    if set(definition) - {"q", *FILTER_FIELDS}:
        return None
    query = MemberFilterForm.data_for({k: v for k, v in definition.items() if k != "q"}).urlencode()
    return reverse("dashboard:members", args=[shop.slug]) + (f"?{query}" if query else "")


class SegmentListView(ShopStaffMixin, TemplateView):
    permission = Perm.MEMBERS_VIEW
    template_name = "members/segments.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        segments = list(segment_list(shop=self.shop))
        for segment in segments:
            segment.members_url = members_url(self.shop, segment.definition)
        context["segments"] = segments
        return context


class SegmentFormMixin(ShopStaffMixin, FormServiceMixin):
    permission = Perm.MEMBERS_CHANGE
    template_name = "members/segment_form.html"
    form_class = SegmentForm
    segment = None

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "shop": self.shop}

    def get_context_data(self, **kwargs):
        return super().get_context_data(segment=self.segment, kept_conditions=self.kept_conditions(), **kwargs)

    def perform(self, form):
        segment_save(
            shop=self.shop,
            actor=self.actor,
            name=form.cleaned_data["name"],
            definition={**form.definition(), **self.kept_conditions()},
            segment=self.segment,
        )

    def kept_conditions(self) -> dict:
        """The saved conditions this form has no field for, kept as they are: those of apps above members (an RFM
        cell: shops.extensions MEMBER_FILTER_KEY). Without them, renaming such a segment would widen it to every
        member matching the rest."""
        if self.segment is None:
            return {}
        return {key: value for key, value in self.segment.definition.items() if key in by_key(MEMBER_FILTER_KEY)}

    def get_success_url(self):
        return reverse("dashboard:segments", args=[self.shop.slug])


class SegmentCreateView(SegmentFormMixin, FormView):
    success_message = gettext_lazy("Segment saved.")


class SegmentEditView(SegmentFormMixin, FormView):
    success_message = gettext_lazy("Segment saved.")

    def dispatch_segment(self):
        self.segment = segment_get(shop=self.shop, pk=self.kwargs["pk"])

    def get(self, request, *args, **kwargs):
        self.dispatch_segment()
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.dispatch_segment()
        return super().post(request, *args, **kwargs)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        if "data" not in kwargs:  # show the saved segment: its definition as the form's data
            data = MemberFilterForm.data_for(self.segment.definition)
            data["name"] = self.segment.name
            kwargs["data"] = data
        return kwargs


class SegmentDeleteView(ServiceActionView):
    permission = Perm.MEMBERS_CHANGE
    success_message = gettext_lazy("Segment deleted.")
    success_url_name = "segments"

    def perform(self):
        segment_delete(shop=self.shop, actor=self.actor, segment=segment_get(shop=self.shop, pk=self.kwargs["pk"]))


class SegmentCountView(ShopStaffMixin, View):
    """The live count: POST the filter form's fields (or a JSON body {"definition": {...}}); answers {"count": n,
    "text": "..."} or, for a filter that does not compile, 400 {"error": "..."}."""

    permission = Perm.MEMBERS_VIEW
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        try:
            definition = self._definition(request)
            count = segment_count(shop=self.shop, definition=definition)
        except InvalidFilter as exc:
            return JsonResponse({"error": str(exc.message)}, status=400)
        text = ngettext("%(count)s member matches.", "%(count)s members match.", count) % {"count": count}
        return JsonResponse({"count": count, "text": text})

    def _definition(self, request) -> dict:
        if request.content_type == "application/json":
            if len(request.body) > MAX_DEFINITION_BYTES:
                raise InvalidFilter(_("The filter is too large."))
            try:
                body = json_loads_bounded(request.body)
            except TooDeep:
                raise InvalidFilter(_("The filter is nested too deeply.")) from None
            except (ValueError, UnicodeDecodeError):
                raise InvalidFilter(_("The filter is not valid JSON.")) from None
            if not isinstance(body, dict) or not isinstance(body.get("definition"), dict):
                raise InvalidFilter(_('Send {"definition": {...}}.'))
            return body["definition"]
        form = MemberFilterForm(request.POST, shop=self.shop)
        if not form.is_valid():
            errors = [
                f"{form.fields[name].label}: {' '.join(msgs)}"
                for name, msgs in form.errors.items()
                if name in form.fields
            ]
            errors += form.non_field_errors()
            raise InvalidFilter(" ".join(errors))
        return form.definition()
