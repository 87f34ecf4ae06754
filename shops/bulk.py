"""Set-based SQL helpers shared by the apps' services: one statement over many rows, on PostgreSQL (the real
store) and SQLite (the embedded default) alike."""

import gc
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache

from django.db import connection
from psycopg.types.json import Jsonb

# PostgreSQL needs the type of a VALUES column spelled out when the driver sends untyped literals; SQLite has no
# such types and compares Django's stored text/numbers as they are.
_PG_TYPES = {
    "int": "bigint",
    "decimal": "numeric",
    "datetime": "timestamptz",
    "text": "text",
    "bool": "boolean",
    "json": "jsonb",
    "uuid": "uuid",
}


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the duration: for a batch that builds a few hundred thousand
    short-lived objects (a thousand orders' rows, parameters and results), which would otherwise trigger full
    collections over the whole process's heap, a tenth of such a batch's time. The batch's objects are freed by
    reference counting as usual; cycles wait for the next collection after it. Nests; leaves the collector as it
    found it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def adapt(value, kind: str):
    """A Python value as the database driver should receive it for a column of `kind`."""
    if value is None:
        return None
    if kind == "datetime":
        return connection.ops.adapt_datetimefield_value(value)
    if kind == "decimal":
        return connection.ops.adapt_decimalfield_value(value)
    if kind == "json":
        return Jsonb(value) if connection.vendor == "postgresql" else json.dumps(value)
    if kind == "uuid" and connection.vendor != "postgresql":
        return value.hex  # as Django stores a UUIDField where the database has no uuid type
    return value


def _columns_of(columns: Sequence[tuple[str, str]], rows: Iterable[Sequence]) -> list[list]:
    """Rows turned into one list per column, for PostgreSQL: psycopg takes Python values as they are (adapt() is
    the identity there but for JSON), so this is a transposition."""
    values = [list(column) for column in zip(*rows, strict=True)]
    for i, (_name, kind) in enumerate(columns):
        if kind == "json" and values:
            values[i] = [adapt(value, kind) for value in values[i]]
    return values or [[] for _ in columns]


def rows_source(columns: Sequence[tuple[str, str]], rows: Iterable[Sequence]) -> tuple[str, list]:
    """A query producing `rows` in order (columns as in `columns`) and its parameters, to follow INSERT INTO t (...)
    or to define a CTE. On PostgreSQL it is one UNNEST of one typed array per column: a handful of parameters
    whatever the row count, so neither the driver nor the server parses thousands of placeholders. One row (a
    single order, a claim: the hot paths) is a SELECT of typed scalars instead, since psycopg dumps a one-item list
    several times slower than its value. SQLite gets a VALUES list."""
    if connection.vendor == "postgresql":
        rows = list(rows)
        values = _columns_of(columns, rows)
        if len(rows) == 1:
            scalars = ", ".join(f"%s::{_PG_TYPES[kind]} AS {name}" for name, kind in columns)
            return f"SELECT {scalars}", [column[0] for column in values]
        # Arrays travel in binary where the server binds the values: psycopg writes the text form of an array
        # element by element in Python (escaping each), about a fifth of a 1,000-order batch.
        mark = "%b" if connection.settings_dict.get("OPTIONS", {}).get("server_side_binding") else "%s"
        names = ", ".join(col for col, _kind in columns)
        arrays = ", ".join(f"{mark}::{_PG_TYPES[kind]}[]" for _name, kind in columns)
        sql = f"SELECT {names} FROM unnest({arrays}) WITH ORDINALITY AS r({names}, ord) ORDER BY ord"  # noqa: S608
        return sql, values
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    params, tuples = [], []
    for row in rows:
        tuples.append(placeholder)
        params.extend(adapt(value, kind) for value, (_name, kind) in zip(row, columns, strict=True))
    return f"VALUES {', '.join(tuples)}", params


def values_cte(name: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence]) -> tuple[str, list]:
    """`WITH name(col, ...) AS (<the rows>)` and its parameters. `columns` are (name, kind) pairs."""
    source, params = rows_source(columns, rows)
    return f"WITH {name}({', '.join(col for col, _kind in columns)}) AS ({source})", params


def insert_rows(
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence],
    *,
    conflict: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[tuple]:
    """INSERT rows in one statement, in the order given. With `conflict`, rows that clash on those unique columns
    (a concurrent writer's or an earlier one's) are skipped; with `returning`, those columns of the rows actually
    inserted are returned. Callers sort rows by the conflict key so that concurrent batches lock in one order."""
    if not rows:
        return []
    source, params = rows_source(columns, rows)
    # Table and column names come from code; every value is a parameter.
    sql = f"INSERT INTO {table} ({', '.join(c for c, _k in columns)}) {source}"  # noqa: S608
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)  # tenant-ok: the caller's table and columns, checked at each call
        return cursor.fetchall() if returning else []


def execute_counted(cursor, sql: str, params: Sequence = ()) -> int:
    """Runs one INSERT, UPDATE or DELETE (no WITH of its own) and returns the number of rows it wrote, counted from
    its RETURNING rows rather than the driver's row count: Citus over-reports the count of INSERT ... SELECT ... ON
    CONFLICT DO NOTHING (citusdata/citus#3377), and Python's sqlite3 reports -1 after some statements. PostgreSQL
    counts them in the statement; SQLite, the embedded default, sends them back."""
    # The statement is the caller's, whose shop condition the architecture test checks at its call.
    if connection.vendor == "postgresql":
        counted = f"WITH written AS ({sql} RETURNING 1) SELECT count(*) FROM written"  # noqa: S608
        cursor.execute(counted, params)  # tenant-ok: the caller's statement
        return cursor.fetchone()[0]
    cursor.execute(f"{sql} RETURNING 1", params)  # tenant-ok: the caller's statement
    return len(cursor.fetchall())


@cache
def _model_select(model, vendor: str) -> tuple[str, list[str], list[tuple[list, object]]]:
    """SELECT list, attribute names and per-column value converters of `model`'s concrete fields (as the ORM's
    compiler would apply them), computed once per model."""
    fields = model._meta.concrete_fields
    table = model._meta.db_table
    columns = ", ".join(f"{connection.ops.quote_name(table)}.{connection.ops.quote_name(f.column)}" for f in fields)
    converters = []  # (column index, converters, column) of the columns that have any
    for i, f in enumerate(fields):
        col = f.get_col(table)
        if found := connection.ops.get_db_converters(col) + col.get_db_converters(connection):
            converters.append((i, found, col))
    select = f"SELECT {columns} FROM {connection.ops.quote_name(table)}"  # noqa: S608 - names from the model
    return select, [f.attname for f in fields], converters


def models_select(model, where: str, params: Sequence, *, order_by: str = "", for_update: bool = False) -> list:
    """Instances of `model` read by a written-out WHERE (columns of the model's table, values as parameters) and
    ORDER BY: for reads on every request, where the ORM spends about a millisecond of CPU compiling the query.
    The instances are what the ORM would build (same conversions, no deferred fields). `where` must name the shop
    (shop_id = %s): the shop scope's guard does not see this query. `for_update` locks the rows read (PostgreSQL;
    SQLite locks the whole database on the first write anyway)."""
    select, attnames, converters = _model_select(model, connection.vendor)
    sql = f"{select} WHERE {where}" + (f" ORDER BY {order_by}" if order_by else "")
    if for_update and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)  # tenant-ok: the caller's WHERE, checked at each call
        rows = cursor.fetchall()
    instances = []
    for row in rows:
        values = list(row)
        for i, column_converters, col in converters:
            for converter in column_converters:
                values[i] = converter(values[i], col, connection)
        instances.append(model.from_db(connection.alias, attnames, values))
    return instances


def in_condition(column: str, values: Iterable) -> tuple[str, list]:
    """`column` is one of `values`, as one parameter whatever their number (an array on PostgreSQL, JSON on
    SQLite), for written-out queries: the condition and its parameters."""
    values = list(values)
    if len(values) == 1:
        # A prepared statement with scalar parameters keeps one generic plan; with an array PostgreSQL plans it
        # afresh on every execution (a tenth of a millisecond for a lookup, a millisecond for the tier upgrade),
        # and one value is the single-order API's case.
        return f"{column} = %s", values
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [values]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(values)]  # noqa: S608 - a placeholder
