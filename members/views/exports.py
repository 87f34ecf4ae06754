"""The streamed CSV export of a filtered member list."""

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views import View

from shops.dashboard import ShopStaffMixin
from shops.errors import ApplicationError
from shops.roles import Perm

from .. import exports
from ..filters import DEFAULT_SORT, SORTS
from .members import list_filter


class MemberListExportView(ShopStaffMixin, View):
    """GET with the member list's own query string (its conditions, or ?f=<token> for a search, and its sort):
    that list as CSV. The list's filter is read by the list's own code, so the two always agree."""

    permission = Perm.MEMBERS_EXPORT

    def get(self, request, *args, **kwargs):
        listed = list_filter(request, self.shop, request.GET)
        if listed.expired:
            return _bad_request(_("That search has expired. Please search again, then export."))
        if listed.definition is None:
            errors = [
                f"{listed.form[name].label}: {' '.join(messages)}" for name, messages in listed.form.errors.items()
            ]
            return _bad_request("\n".join(errors))
        sort = request.GET.get("sort", "")
        try:
            pieces = exports.members_export_csv(
                shop=self.shop,
                actor=self.actor,
                definition=listed.definition,
                sort=sort if sort in SORTS else DEFAULT_SORT,
                show_phone=Perm.MEMBERS_PHONE in self.perms,
            )
        except ApplicationError as exc:
            return _bad_request(exc.message)
        response = StreamingHttpResponse(pieces, content_type="text/csv; charset=utf-8")
        filename = f"members-{self.shop.slug}-{timezone.localdate():%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        add_never_cache_headers(response)  # personal data: no copies in shared caches
        return response


def _bad_request(message) -> HttpResponse:
    return HttpResponse(str(message), status=400, content_type="text/plain; charset=utf-8")
