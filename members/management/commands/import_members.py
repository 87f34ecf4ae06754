from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from members.imports.engine import import_create, import_process
from members.models import ImportKind, ImportStatus
from shops.errors import ApplicationError
from shops.models import Shop
from shops.selectors import shop_by_slug
from shops.services import Actor
from shops.tenancy import shop_scope

ERRORS_SHOWN = 20


class ImportCommand(BaseCommand):
    """Run an import synchronously, through the same services as the dashboard (the job shows there too)."""

    kind = ImportKind.MEMBERS

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="The shop's slug.")
        parser.add_argument("file", help="A CSV (UTF-8 or GBK) or XLSX file with a header row.")

    def handle(self, *args, shop, file, **options):
        try:
            shop_obj = shop_by_slug(slug=shop)
        except Shop.DoesNotExist:
            raise CommandError(f"No shop with slug {shop!r}.") from None
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No file at {file}.")
        actor = Actor(label=f"manage.py import_{self.kind}")
        with shop_scope(shop_obj), path.open("rb") as handle:
            try:
                job = import_create(
                    shop=shop_obj, kind=self.kind, upload=File(handle, name=path.name), actor=actor, dispatch=False
                )
            except ApplicationError as exc:
                raise CommandError(str(exc.message)) from None
            job = import_process(shop=shop_obj, job_id=job.pk)
        if job.status == ImportStatus.FAILED:
            raise CommandError(f"Import {job.pk} failed: {job.message}")
        self.stdout.write(
            f"Import {job.pk} ({self.kind}) of {path.name}: {job.processed_rows} rows, {job.created_rows} created, "
            f"{job.duplicate_rows} duplicates, {job.error_rows} errors."
        )
        if job.message:
            self.stdout.write(job.message)
        errors = sorted(job.errors, key=lambda e: e["row"])
        for error in errors[:ERRORS_SHOWN]:
            self.stdout.write(f"Row {error['row']}: {error['reason']}")
        if len(errors) > ERRORS_SHOWN:
            self.stdout.write(
                f"... and {len(errors) - ERRORS_SHOWN} more errors: see the error report on the dashboard."
            )


class Command(ImportCommand):
    help = "Import members from a CSV or XLSX file (手机号/phone, 姓名/name, 性别/gender, 生日/birthday, ...)."
