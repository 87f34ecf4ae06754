"""`manage.py citus_distribute` (shops.citus): the SQL that distributes the migrated schema by shop on a Citus
coordinator. CI has no Citus, so these tests read the SQL it prints (--dry-run) against the catalog of the migrated
test database, check the plan's rules on tables made for the test, and check that without Citus it runs nothing."""

import re
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from shops.citus import DISTRIBUTED, REFERENCE, PlanError, distribution_plan
from shops.distribution import REFERENCE_MODELS, shop_models

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

STATEMENT = re.compile(
    r"SELECT create_(?P<kind>reference|distributed)_table\('(?P<table>\w+)'"
    r"(?:, 'shop_id', colocate_with => '(?P<colocate_with>\w+)')?\);"
)
NAMED_REFERENCE = {"shops_shop", "shops_user"} | {
    model._meta.db_table for model in shop_models() if model._meta.label in REFERENCE_MODELS
}
# The tables without a shop that the users' foreign keys tie to the reference tables.
DERIVED_REFERENCE = {
    "shops_user_groups",
    "shops_user_user_permissions",
    "auth_group",
    "auth_permission",
    "auth_group_permissions",
    "django_content_type",
    "django_admin_log",
}


def dry_run() -> list[str]:
    out = StringIO()
    call_command("citus_distribute", dry_run=True, stdout=out)
    return out.getvalue().splitlines()


def created(lines: list[str]) -> list[re.Match]:
    return [match for line in lines if (match := STATEMENT.fullmatch(line.split("  --")[0]))]


def catalog_foreign_keys() -> set[tuple[str, str]]:
    """(referencing table, referenced table) for every foreign key, read without shops.citus."""
    with connection.cursor() as cursor:
        cursor.execute(  # tenant-ok: the catalog
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint WHERE contype = 'f'"
        )
        return set(cursor.fetchall())


def test_the_dry_run_makes_every_shop_table_once_reference_tables_first():
    lines = dry_run()
    made = created(lines)

    shop_tables = {model._meta.db_table for model in shop_models()}
    counts = Counter(match["table"] for match in made)
    assert {table: counts[table] for table in shop_tables} == dict.fromkeys(shop_tables, 1)
    assert max(counts.values()) == 1
    reference = [match["table"] for match in made if match["kind"] == "reference"]
    distributed = [match["table"] for match in made if match["kind"] == "distributed"]
    assert set(reference) == NAMED_REFERENCE | DERIVED_REFERENCE
    assert set(distributed) == shop_tables - NAMED_REFERENCE
    assert {"events_event", "events_stream", "events_cursor", "members_member", "orders_order"} <= set(distributed)
    # the setting first, then every reference table, then every distributed one
    statements = [line for line in lines if not line.startswith("--")]
    assert statements[0] == "SET citus.enable_local_reference_table_foreign_keys TO off;"
    assert [match["kind"] for match in made] == ["reference"] * len(reference) + ["distributed"] * len(distributed)
    assert len(statements) == 1 + len(made)


def test_the_dry_run_colocates_every_shop_table_with_the_first():
    made = [match for match in created(dry_run()) if match["kind"] == "distributed"]

    first = made[0]["table"]
    assert made[0]["colocate_with"] == "none"
    assert [match["colocate_with"] for match in made[1:]] == [first] * (len(made) - 1)


def test_the_dry_run_makes_each_table_after_the_tables_it_points_to():
    made = created(dry_run())
    position = {match["table"]: i for i, match in enumerate(made)}

    keys = [(a, b) for a, b in catalog_foreign_keys() if a in position and b in position and a != b]
    assert [(a, b) for a, b in keys if position[b] > position[a]] == []
    # the order is not vacuous: chains of composite keys and keys from distributed to reference tables
    assert {("orders_orderitem", "orders_order"), ("orders_order", "members_member")} <= set(keys)
    assert ("recruitment_channeltag", "recruitment_channel") in keys
    assert ("members_member", "members_member") in catalog_foreign_keys()  # a self-reference, left out of the order


def test_the_dry_run_names_the_tables_that_stay_on_the_coordinator_in_comments():
    lines = dry_run()

    start = next(i for i, line in enumerate(lines) if line.startswith("-- Plain tables, on the coordinator only"))
    end = next(i for i, line in enumerate(lines) if i > start and not line.startswith("--   "))
    local = set(re.findall(r"\w+", " ".join(lines[start:end]).split("a shop or a user):")[1]))
    assert {"django_session", "django_migrations", "axes_accessattempt", "axes_accesslog"} <= local
    assert not local & {match["table"] for match in created(lines)}
    comments = " ".join(line.lstrip("- ") for line in lines if line.startswith("--"))
    assert "Run citus_distribute again after a migration that creates a table" in comments


def test_without_citus_the_command_refuses_and_changes_nothing():
    # given a database without the citus extension
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension ORDER BY 1")  # tenant-ok: the catalog
        extensions = cursor.fetchall()
    assert ("citus",) not in extensions
    keys = catalog_foreign_keys()
    out = StringIO()

    # when it is asked to run
    with pytest.raises(CommandError, match="citus extension is not installed"):
        call_command("citus_distribute", stdout=out)

    # then it printed and ran nothing: not even the setting it starts with
    assert out.getvalue() == ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('citus.enable_local_reference_table_foreign_keys', true)")  # tenant-ok
        assert cursor.fetchone() == (None,)
        cursor.execute("SELECT extname FROM pg_extension ORDER BY 1")  # tenant-ok: the catalog
        assert cursor.fetchall() == extensions
    assert catalog_foreign_keys() == keys


def test_a_second_run_skips_what_citus_holds_and_colocates_new_tables_with_the_held_ones():
    full = distribution_plan(connection=connection)
    new = {full.distributed[0], "orders_refund"}  # the first table made, and one a later migration might add
    held = {table: REFERENCE for table in full.reference} | {
        table: DISTRIBUTED for table in full.distributed if table not in new
    }

    plan = distribution_plan(connection=connection, existing=held)

    anchor = next(table for table in full.distributed if table not in new)
    assert plan.statements() == [
        "SET citus.enable_local_reference_table_foreign_keys TO off;",
        *(
            f"SELECT create_distributed_table('{table}', 'shop_id', colocate_with => '{anchor}');"
            for table in full.distributed
            if table in new
        ),
    ]
    everything = held | dict.fromkeys(new, DISTRIBUTED)
    assert distribution_plan(connection=connection, existing=everything).statements() == []


def test_a_table_citus_holds_as_another_kind_is_refused():
    with pytest.raises(PlanError, match="holds members_member as a reference table, but it should be a distributed"):
        distribution_plan(connection=connection, existing={"members_member": REFERENCE})


def test_plain_tables_tied_to_reference_or_distributed_tables_become_reference_tables():
    with connection.cursor() as cursor:  # tenant-ok: tables made for the test, rolled back with it
        cursor.execute("CREATE TABLE probe_note (id bigint PRIMARY KEY, user_id bigint REFERENCES shops_user (id))")
        cursor.execute("CREATE TABLE probe_kind (id bigint PRIMARY KEY)")
        cursor.execute("ALTER TABLE members_tag ADD COLUMN probe_kind_id bigint REFERENCES probe_kind (id)")
        cursor.execute("CREATE TABLE probe_alone (id bigint PRIMARY KEY)")

    plan = distribution_plan(connection=connection)

    assert plan.reasons["probe_note"] == "it points to reference table shops_user"
    assert plan.reasons["probe_kind"] == "distributed table members_tag points to it"
    assert plan.reference.index("shops_user") < plan.reference.index("probe_note")
    assert "probe_alone" in plan.local


def test_a_key_citus_would_refuse_stops_the_plan():
    with connection.cursor() as cursor:  # tenant-ok: a table made for the test, rolled back with it
        cursor.execute(
            "CREATE TABLE probe_orphan (id bigint PRIMARY KEY, shop bigint, member_id bigint, "
            "FOREIGN KEY (shop, member_id) REFERENCES members_member (shop_id, id))"
        )
    with pytest.raises(PlanError, match="probe_orphan has no shop and points to the distributed table members_member"):
        distribution_plan(connection=connection)


def test_a_key_between_shop_tables_that_does_not_pair_shop_id_stops_the_plan():
    with connection.cursor() as cursor:  # tenant-ok: a key made for the test, rolled back with it
        cursor.execute(
            "ALTER TABLE orders_refund ADD CONSTRAINT probe_crossed FOREIGN KEY (order_id, shop_id) "
            "REFERENCES orders_order (shop_id, id)"
        )
    with pytest.raises(PlanError, match="probe_crossed .* does not pair shop_id with shop_id"):
        distribution_plan(connection=connection)
