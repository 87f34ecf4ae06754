"""The imports page: upload a members or orders file, follow its progress, download its row-by-row error report."""

from django import forms
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView

from shops.dashboard import ShopStaffMixin
from shops.errors import ApplicationError
from shops.forms import Form
from shops.roles import Perm
from shops.views import FormServiceMixin

from ..imports import engine, files, stale
from ..models import ImportKind, ImportStatus


class ImportForm(Form):
    kind = forms.ChoiceField(
        label=_("The file holds"), choices=ImportKind.choices, initial=ImportKind.MEMBERS, widget=forms.RadioSelect
    )
    file = forms.FileField(label=_("File"), widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Set per form, not at import time, so that the numbers are put into the request's language.
        self.fields["file"].help_text = gettext(
            "CSV (UTF-8 or GBK, as Excel saves it) or XLSX, with a header row; up to %(mb)s MB and %(rows)s rows."
        ) % {"mb": files.MAX_FILE_BYTES // (1024 * 1024), "rows": f"{files.MAX_ROWS:,}"}

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            files.import_file_check(name=upload.name, size=upload.size, handle=upload)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from None
        return upload


class ImportsView(ShopStaffMixin, FormServiceMixin, FormView):
    permission = Perm.MEMBERS_EXPORT
    template_name = "members/imports.html"
    form_class = ImportForm
    success_message = _("File received: it is being imported. This page shows the progress.")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Beat does this every few minutes; the page does it too, so that it never shows a dead job as running.
        stale.imports_fail_stale(shop=self.shop)
        jobs = list(engine.import_list_recent(shop=self.shop))
        context.update(
            jobs=jobs,
            running=any(job.status in (ImportStatus.PENDING, ImportStatus.RUNNING) for job in jobs),
        )
        return context

    def perform(self, form):
        engine.import_create(
            shop=self.shop, kind=form.cleaned_data["kind"], upload=form.cleaned_data["file"], actor=self.actor
        )

    def get_success_url(self):
        return reverse("dashboard:imports", args=[self.shop.slug])


class ImportErrorsView(ShopStaffMixin, View):
    """The error report of one import as CSV: row number and reason."""

    permission = Perm.MEMBERS_EXPORT

    def get(self, request, *args, pk, **kwargs):
        job = engine.import_get(shop=self.shop, pk=pk)
        response = HttpResponse(engine.import_errors_csv(job=job), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response
