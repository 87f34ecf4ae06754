import re

from django.utils.translation import gettext as _
from rest_framework import pagination
from rest_framework.exceptions import ValidationError

_DIGITS = re.compile(r"[0-9]{1,6}")  # ASCII digits only: str.isdigit() also takes "¹", which int() refuses


class CursorPagination(pagination.CursorPagination):
    """Stable under inserts and fast at any depth (no OFFSET): newest first by primary key.

    `limit` is 1 to max_page_size, as the schema says; anything else is 400 (DRF would quietly use the default, so
    a client asking for 1,000 would silently get 50)."""

    ordering = "-pk"
    page_size_query_param = "limit"
    max_page_size = 500

    def get_page_size(self, request):
        text = request.query_params.get(self.page_size_query_param)
        if text is None:
            return self.page_size
        if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= self.max_page_size:
            message = _("Give a whole number from 1 to %(max)d.") % {"max": self.max_page_size}
            raise ValidationError({self.page_size_query_param: [message]})
        return int(text)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size, default=self.page_size)
                parameter["description"] = f"Results per page, 1 to {self.max_page_size} (default {self.page_size})."
        return parameters
