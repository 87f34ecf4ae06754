"""The plan that distributes a migrated schema by shop on a Citus coordinator (`manage.py citus_distribute`, README
"Deploying on Citus", shops.distribution for why the schema allows it).

What each table becomes is read from the models (which tables have a shop, which of those are reference tables) and
from the database's catalog (every foreign key as PostgreSQL holds it, the composite ones included), so a table or a
relation that a later migration adds finds its place without a list here to update:
- reference tables, one copy on every node: the two lists of shops.distribution, and every table without a shop
  that a foreign key ties to one of them either way (a reference table may point only to reference tables, and with
  `citus.enable_local_reference_table_foreign_keys` off a plain table may not point to one), or that a distributed
  table points to;
- distributed tables, split by `shop_id` and all colocated with one another: every other table with a shop;
- plain tables on the coordinator: what no foreign key ties to either kind (sessions, log-in attempts, migrations).
Each kind is created after the tables its foreign keys point to, reference tables first. A table that Citus already
holds (pg_dist_partition) is left alone, so after a migration that creates a table the command is simply run again.
"""

import heapq
import re
import textwrap
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from django.apps import apps

from shops.distribution import GLOBAL_REFERENCE_MODELS, REFERENCE_MODELS, shop_models

REFERENCE = "reference"
DISTRIBUTED = "distributed"
SHOP_COLUMN = "shop_id"
# With it on, Citus silently turns a plain table tied to a reference table into a "Citus local table", which fails on
# identity columns (Django's ids); off, such a table is an error here and in Citus, and becomes a reference table.
LOCAL_REFERENCE_FKS_OFF = "SET citus.enable_local_reference_table_foreign_keys TO off;"


class PlanError(Exception):
    """The schema cannot be distributed as it stands; the message says which table or key and why."""


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: tuple[str, ...]
    to_table: str
    to_columns: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    reference: tuple[str, ...]  # in creation order
    distributed: tuple[str, ...]  # in creation order
    local: tuple[str, ...]
    reasons: Mapping[str, str]  # why each reference table is one
    existing: Mapping[str, str]  # the tables Citus holds already: table -> REFERENCE, DISTRIBUTED or "local"

    @property
    def colocate_with(self) -> str | None:
        """The table every distributed table is colocated with: one Citus already holds, else the first made."""
        held = [table for table in self.distributed if self.existing.get(table) == DISTRIBUTED]
        return (held or list(self.distributed) or [None])[0]

    def script(self) -> list[str]:
        """The lines to print: comments (`--`) and, one per line, the statements to run in order."""
        anchor = self.colocate_with
        lines = ["-- Distribute the schema by shop_id (manage.py citus_distribute; README: Deploying on Citus)."]
        lines += _comment(
            "Plain tables, on the coordinator only (no foreign key ties them to a shop's table, a shop or a user): "
            + ", ".join(self.local)
        )
        held = sorted(table for table in (*self.reference, *self.distributed) if table in self.existing)
        if held:
            lines += _comment("Held by Citus already, left alone: " + ", ".join(held))
        to_reference = [table for table in self.reference if table not in self.existing]
        to_distribute = [table for table in self.distributed if table not in self.existing]
        if to_reference or to_distribute:
            lines.append(LOCAL_REFERENCE_FKS_OFF)
        else:
            lines.append("-- Nothing to do: Citus holds every reference and distributed table.")
        if to_reference:
            lines += _comment(
                "Reference tables, a copy on every node, each after the tables it points to (shops.distribution's "
                "lists, and the tables their foreign keys tie to them):"
            )
            lines += [f"SELECT create_reference_table({_literal(t)});  -- {self.reasons[t]}" for t in to_reference]
        if to_distribute:
            lines += _comment(f"Distributed by shop_id, colocated with {anchor}, each after the tables it points to:")
            lines += [
                f"SELECT create_distributed_table({_literal(table)}, {_literal(SHOP_COLUMN)}, colocate_with => "
                f"{_literal('none' if table == anchor else anchor)});"
                for table in to_distribute
            ]
        lines += _comment(
            "Later migrations: Citus propagates ALTER TABLE on these tables. Run citus_distribute again after a "
            "migration that creates a table (tables Citus holds are skipped); a new table with foreign keys must be "
            'distributed by its migration, before them: README "Deploying on Citus".'
        )
        return lines

    def statements(self) -> list[str]:
        return [line for line in self.script() if not line.startswith("--")]


def citus_installed(connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")  # tenant-ok: the catalog
        return cursor.fetchone() is not None


def citus_tables(connection) -> dict[str, str]:
    """The tables Citus holds already, by kind. Only call it where the citus extension is installed."""
    with connection.cursor() as cursor:
        cursor.execute(  # tenant-ok: Citus's catalog
            "SELECT c.relname, p.partmethod, p.repmodel FROM pg_dist_partition p JOIN pg_class c ON c.oid = "
            "p.logicalrelid WHERE pg_table_is_visible(c.oid)"
        )
        rows = cursor.fetchall()
    # 'h' is hash-distributed; 'n' with replication model 't' a reference table, else a Citus local table.
    return {
        table: DISTRIBUTED if method == "h" else REFERENCE if model == "t" else "local" for table, method, model in rows
    }


def foreign_keys(connection) -> list[ForeignKey]:
    """Every foreign key between the tables this connection sees, with its columns in order."""
    with connection.cursor() as cursor:
        cursor.execute(  # tenant-ok: the catalog
            "SELECT k.conname, t.relname, f.relname, "
            "ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS n(attnum, i) JOIN pg_attribute a "
            "ON a.attrelid = k.conrelid AND a.attnum = n.attnum ORDER BY n.i), "
            "ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY AS n(attnum, i) JOIN pg_attribute a "
            "ON a.attrelid = k.confrelid AND a.attnum = n.attnum ORDER BY n.i) "
            "FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid "
            "WHERE k.contype = 'f' AND pg_table_is_visible(t.oid) AND pg_table_is_visible(f.oid) "
            "ORDER BY t.relname, k.conname"
        )
        return [ForeignKey(name, a, tuple(cols), b, tuple(to_cols)) for name, a, b, cols, to_cols in cursor.fetchall()]


def distribution_plan(*, connection, existing: Mapping[str, str] | None = None) -> Plan:
    """What each table of the migrated database becomes, and in which order (module docstring).

    `existing` is what Citus holds already (citus_tables). Raises PlanError when a table the models name is missing
    (run migrate first), when a foreign key is one Citus refuses, when foreign keys form a cycle, or when Citus
    holds a table as another kind than the plan's.
    """
    existing = dict(existing or {})
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
    keys = foreign_keys(connection)
    # The app registry's order (shops, events, members, ...) is the tie-break, so the script reads in app order.
    models = apps.get_models(include_auto_created=True)
    position = {model._meta.db_table: i for i, model in reversed(list(enumerate(models)))}

    reasons = {apps.get_model(label)._meta.db_table: "in GLOBAL_REFERENCE_MODELS" for label in GLOBAL_REFERENCE_MODELS}
    reasons |= {apps.get_model(label)._meta.db_table: "in REFERENCE_MODELS" for label in REFERENCE_MODELS}
    distributed = {model._meta.db_table for model in shop_models()} - reasons.keys()
    missing = sorted((reasons.keys() | distributed) - tables)
    if missing:
        raise PlanError(f"Tables of the models are missing from the database (run migrate first): {', '.join(missing)}")

    # Foreign keys may pull plain tables in among the reference tables (module docstring), until nothing changes.
    changed = True
    while changed:
        changed = False
        for key in keys:
            source, target = key.table, key.to_table
            if source in reasons and target not in reasons:
                if target in distributed:
                    raise PlanError(
                        f"The reference table {source} points to the distributed table {target} ({key.name}): "
                        "Citus allows no such key."
                    )
                reasons[target] = f"reference table {source} points to it"
            elif target in reasons and source not in reasons and source not in distributed:
                reasons[source] = f"it points to reference table {target}"
            elif source in distributed and target not in reasons and target not in distributed:
                reasons[target] = f"distributed table {source} points to it"
            elif target in distributed and source not in distributed:
                raise PlanError(
                    f"{source} has no shop and points to the distributed table {target} ({key.name}): give it a "
                    "shop, or drop the key."
                )
            else:
                continue
            changed = True

    for key in keys:
        if key.table in distributed and key.to_table in distributed and not _keeps_shop(key):
            raise PlanError(
                f"{key.name} ({key.table} -> {key.to_table}) does not pair shop_id with shop_id: Citus refuses a "
                "foreign key between distributed tables that may point to another node."
            )
    for table, kind in existing.items():
        wanted = REFERENCE if table in reasons else DISTRIBUTED if table in distributed else None
        if wanted and kind != wanted:
            # A "local" one is most likely a table a migration created on the cluster (README, Deploying on Citus).
            raise PlanError(f"Citus holds {table} as a {kind} table, but it should be a {wanted} table.")

    return Plan(
        reference=tuple(_in_key_order(set(reasons), keys, position)),
        distributed=tuple(_in_key_order(distributed, keys, position)),
        local=tuple(sorted(tables - reasons.keys() - distributed)),
        reasons=reasons,
        existing=existing,
    )


def _keeps_shop(key: ForeignKey) -> bool:
    """Whether the key pairs the referencing shop_id with the referenced one, which keeps it on one node."""
    return SHOP_COLUMN in key.columns and key.to_columns[key.columns.index(SHOP_COLUMN)] == SHOP_COLUMN


def _in_key_order(tables: set[str], keys: list[ForeignKey], position: Mapping[str, int]) -> list[str]:
    """`tables` with each after the ones it points to (a table pointing to itself is fine), ties in registry order."""
    needs = defaultdict(set)
    needed_by = defaultdict(set)
    for key in keys:
        if key.table in tables and key.to_table in tables and key.table != key.to_table:
            needs[key.table].add(key.to_table)
            needed_by[key.to_table].add(key.table)
    rank = {table: (position.get(table, len(position)), table) for table in tables}
    ready = [rank[table] for table in tables if not needs[table]]
    heapq.heapify(ready)
    ordered = []
    while ready:
        table = heapq.heappop(ready)[1]
        ordered.append(table)
        for other in needed_by[table]:
            needs[other].discard(table)
            if not needs[other]:
                heapq.heappush(ready, rank[other])
    if len(ordered) < len(tables):
        cycle = ", ".join(sorted(tables - set(ordered)))
        raise PlanError(f"Foreign keys form a cycle among {cycle}: Citus needs each table made after those it needs.")
    return ordered


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, width=116, initial_indent="-- ", subsequent_indent="--   ", break_on_hyphens=False)


def _literal(name: str) -> str:
    """A table or column name as the text literal Citus's functions take (quoted as an identifier if it must be)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        name = '"' + name.replace('"', '""') + '"'
    return "'" + name.replace("'", "''") + "'"
