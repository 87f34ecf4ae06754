"""Django's PostgreSQL backend with two changes: an integer parameter never arrives as another number, and the
schema editor makes every shop's table distributable by shop_id (schema.py).

Django types each integer parameter after its field (psycopg's Int2, Int4, Int8), and a Python int inside an
expression (`F("points_balance") + 4294967396`, `Value(n)`) is an IntegerField there, so an Int4. With values bound
by the server (settings: server_side_binding) psycopg sends them in binary, and its binary Int2 and Int4 dumpers
keep the low 16 or 32 bits of a larger value: an adjustment of 4,294,967,396 points added 100 to the balance while
its entry said 4,294,967,396 (issue 16). Here a value outside its type's range travels as a bigint (or, beyond one,
as numeric), so PostgreSQL computes with it exactly (a bigint column, a comparison) or refuses it ("integer out of
range"). A value inside the range is typed as Django types it, so every statement that works today is unchanged."""

from django.db.backends.postgresql import base, operations
from psycopg.types.numeric import Int2, Int4, Int8

from .schema import DatabaseSchemaEditor

_RANGES = {Int2: (-(2**15), 2**15 - 1), Int4: (-(2**31), 2**31 - 1), Int8: (-(2**63), 2**63 - 1)}


class DatabaseOperations(operations.DatabaseOperations):
    def adapt_integerfield_value(self, value, internal_type):
        dumper = self.integerfield_type_map.get(internal_type)
        if not isinstance(value, int) or dumper not in _RANGES:  # None, an expression, or a type Django adds later
            return super().adapt_integerfield_value(value, internal_type)
        low, high = _RANGES[dumper]
        if low <= value <= high:
            return dumper(value)
        # A plain int beyond a bigint is dumped as numeric: PostgreSQL compares it exactly or refuses to store it.
        return Int8(value) if _RANGES[Int8][0] <= value <= _RANGES[Int8][1] else int(value)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    SchemaEditorClass = DatabaseSchemaEditor
