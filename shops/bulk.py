"""Set-based SQL helpers shared by the apps' services: one statement over many rows, on PostgreSQL (the real
store) and SQLite (the embedded default) alike."""

from collections.abc import Iterable, Sequence

from django.db import connection

# PostgreSQL needs the type of a VALUES column spelled out when the driver sends untyped literals; SQLite has no
# such types and compares Django's stored text/numbers as they are.
_PG_TYPES = {"int": "bigint", "decimal": "numeric", "datetime": "timestamptz", "text": "text", "bool": "boolean"}


def adapt(value, kind: str):
    """A Python value as the database driver should receive it for a column of `kind`."""
    if value is None:
        return None
    if kind == "datetime":
        return connection.ops.adapt_datetimefield_value(value)
    if kind == "decimal":
        return connection.ops.adapt_decimalfield_value(value)
    return value


def values_cte(name: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence]) -> tuple[str, list]:
    """`WITH name(col, ...) AS (VALUES (...), ...)` and its parameters. `columns` are (name, kind) pairs."""
    postgres = connection.vendor == "postgresql"
    placeholder = (
        "(" + ", ".join(f"CAST(%s AS {_PG_TYPES[kind]})" if postgres else "%s" for _name, kind in columns) + ")"
    )
    params, tuples = [], []
    for row in rows:
        tuples.append(placeholder)
        params.extend(adapt(value, kind) for value, (_name, kind) in zip(row, columns, strict=True))
    column_list = ", ".join(col for col, _kind in columns)
    return f"WITH {name}({column_list}) AS (VALUES {', '.join(tuples)})", params


def insert_returning(
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence],
    *,
    conflict: Sequence[str],
    returning: Sequence[str],
) -> list[tuple]:
    """INSERT rows, skipping those that clash on the `conflict` unique columns (a concurrent writer's or an
    earlier one's), and return `returning` for the rows actually inserted. Callers sort rows by the conflict key so
    that concurrent batches take their locks in one order."""
    if not rows:
        return []
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    params = [adapt(value, kind) for row in rows for value, (_name, kind) in zip(row, columns, strict=True)]
    # Table and column names come from code; every value is a parameter.
    insert = f"INSERT INTO {table} ({', '.join(c for c, _k in columns)}) VALUES {', '.join([placeholder] * len(rows))}"  # noqa: S608
    sql = f"{insert} ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {', '.join(returning)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def rows_affected(cursor) -> int:
    """Rows changed by the cursor's last statement. Python's sqlite3 reports -1 for statements that start with
    WITH, so SQLite is asked directly."""
    if connection.vendor == "sqlite":
        cursor.execute("SELECT changes()")
        return cursor.fetchone()[0]
    return cursor.rowcount
