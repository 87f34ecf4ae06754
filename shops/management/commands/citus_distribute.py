from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from shops import citus


class Command(BaseCommand):
    help = (
        "On a Citus coordinator, after migrate: make the reference tables and distribute every other shop's table by "
        "shop_id, colocated (README: Deploying on Citus). Safe to run again: tables Citus holds are left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print the SQL and run none of it.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="The database alias (default: default).")

    def handle(self, *args, dry_run, database, **options):
        connection = connections[database]
        if connection.vendor != "postgresql":
            raise CommandError(f"Citus is a PostgreSQL extension; the database {database!r} is {connection.vendor}.")
        installed = citus.citus_installed(connection)
        if not installed and not dry_run:
            raise CommandError(
                f"The citus extension is not installed in the database {database!r} (pg_extension): run this on a "
                "Citus coordinator after CREATE EXTENSION citus, or with --dry-run to see the SQL. Nothing was done."
            )
        try:
            plan = citus.distribution_plan(
                connection=connection, existing=citus.citus_tables(connection) if installed else None
            )
        except citus.PlanError as error:
            raise CommandError(f"{error} Nothing was done.") from None
        # Each statement on its own, in autocommit: Citus copies a table's rows as it distributes it, and a run cut
        # short is completed by running the command again.
        for line in plan.script():
            self.stdout.write(line)
            if not dry_run and not line.startswith("--"):
                with connection.cursor() as cursor:
                    cursor.execute(line)  # tenant-ok: Citus's functions, on whole tables
