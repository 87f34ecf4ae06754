"""Django's PostgreSQL schema editor, making every shop's table distributable by shop_id (shops.distribution).

Every table created or altered by a migration gets, with no line in the migration for it:
- the primary key `(shop_id, id)` when it has a shop (Django still treats `id` as the pk);
- for each ShopForeignKey (and each plain ForeignKey between shops' tables, as the migrations written before
  ShopForeignKey declare them), the composite constraint `FOREIGN KEY (shop_id, x_id) REFERENCES t (shop_id, id)`,
  deferred to the end of the migration as Django's own are;
- on a Citus coordinator, a new shop's table is distributed right after it is created, before those constraints.

So a table is born distributable. `ensure_shop_key` converts a table made before this rule, and is what the
migrations that converted the existing schema call (`shops.migration_ops.ShopKeys`).
"""

from django.db.backends.postgresql import schema

from shops.citus import DISTRIBUTED, citus_installed, citus_tables
from shops.distribution import REFERENCE_MODELS, ShopForeignKey, is_shop_model


class DatabaseSchemaEditor(schema.DatabaseSchemaEditor):
    sql_create_shop_fk = (
        "ALTER TABLE %(table)s ADD CONSTRAINT %(name)s FOREIGN KEY (shop_id, %(column)s) "
        "REFERENCES %(to_table)s (shop_id, %(to_column)s) DEFERRABLE INITIALLY DEFERRED"
    )

    def create_model(self, model):
        super().create_model(model)
        if self._needs_shop_key(model):
            self._replace_primary_key(model)
            self._distribute_on_citus(model)
        for field in model._meta.local_fields:
            if isinstance(field, ShopForeignKey):
                self.deferred_sql.append(self._shop_fk_sql(model, field))

    def add_field(self, model, field):
        inline_fk = self.sql_create_column_inline_fk
        if self._is_shop_relation(model, field):
            self.sql_create_column_inline_fk = None  # so that Django defers it to _create_fk_sql, made composite
        try:
            super().add_field(model, field)
        finally:
            self.sql_create_column_inline_fk = inline_fk
        if field.name == "shop" and field.related_model._meta.label == "shops.Shop":
            # A table made without its shop, which the autodetector sometimes adds after the table's relations
            # (`model` is the table as it was before this field).
            self.ensure_shop_key(model, adding_shop=True)
            self._distribute_on_citus(model)
        if isinstance(field, ShopForeignKey):
            self.deferred_sql.append(self._shop_fk_sql(model, field))

    def _alter_field(self, model, old_field, new_field, *args, **kwargs):
        super()._alter_field(model, old_field, new_field, *args, **kwargs)
        if not self._is_shop_relation(model, new_field) and self._has_shop_fk(model, old_field):
            # tenant-ok: the schema's catalog and DDL, no shop's rows
            self.execute(self._delete_fk_sql(model, self._shop_fk_name(model, old_field)))
        elif isinstance(new_field, ShopForeignKey) and not self._has_shop_fk(model, new_field):
            self.deferred_sql.append(self._shop_fk_sql(model, new_field))

    def _create_fk_sql(self, model, field, suffix):
        # A plain ForeignKey between two shops' tables, as the migrations made before ShopForeignKey declare them.
        if self._is_shop_relation(model, field):
            return self._shop_fk_sql(model, field)
        return super()._create_fk_sql(model, field, suffix)

    def ensure_shop_key(self, model, adding_shop=False):
        """Gives a shop's table made before the rule its `(shop_id, id)` primary key. The foreign keys that point
        to its `id` alone are dropped first (PostgreSQL needs a unique key under each); each comes back composite
        when its field becomes a ShopForeignKey."""
        if not (adding_shop or self._needs_shop_key(model)) or "shop_id" in self._primary_key_columns(model):
            return  # not a shop's table, one made under the rule (or not yet made), or one already converted
        with self.connection.cursor() as cursor:
            # tenant-ok: the schema's catalog and DDL, no shop's rows
            cursor.execute(
                "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f' AND confrelid = "
                "%s::regclass AND array_length(conkey, 1) = 1",
                [model._meta.db_table],
            )
            incoming = cursor.fetchall()
        for table, name in incoming:
            # tenant-ok: the schema's catalog and DDL, no shop's rows
            self.execute(f"ALTER TABLE {table} DROP CONSTRAINT {self.quote_name(name)}")
        self._replace_primary_key(model)

    def _distribute_on_citus(self, model):
        """On a Citus coordinator a new shop's table is distributed (or, in REFERENCE_MODELS, copied to every node)
        as soon as it exists, colocated with the others: its foreign keys come at the end of the migration, and
        Citus refuses them from a plain table (README, "Deploying on Citus"). On PostgreSQL alone, nothing."""
        if not citus_installed(self.connection):
            return
        table = model._meta.db_table
        if model._meta.label in REFERENCE_MODELS:
            self.execute("SELECT create_reference_table(%s)", [table])  # tenant-ok: Citus DDL, no rows
            return
        anchor = min((t for t, kind in citus_tables(self.connection).items() if kind == DISTRIBUTED), default="none")
        self.execute("SELECT create_distributed_table(%s, 'shop_id', colocate_with => %s)", [table, anchor])

    def _is_shop_relation(self, model, field) -> bool:
        """A relation to the `id` of a shop's table. Its own table is a shop's table too (ShopForeignKey, and
        tests/test_distribution_catalog.py), if not yet when an old migration adds the shop after the relation."""
        return (
            (field.many_to_one or field.one_to_one)
            and field.name != "shop"
            and (isinstance(field, ShopForeignKey) or field.db_constraint)
            and self._needs_shop_key(field.related_model)
            and field.target_field.column == field.related_model._meta.pk.column
        )

    def _has_shop_fk(self, model, field) -> bool:
        return (field.many_to_one or field.one_to_one) and bool(
            self._constraint_names(model, ["shop_id", field.column], foreign_key=True)
        )

    def _needs_shop_key(self, model) -> bool:
        return is_shop_model(model) and model._meta.pk.column != "shop_id"

    def _primary_key_columns(self, model) -> list[str]:
        """The columns of the table's primary key; a table not yet created counts as made under the rule."""
        with self.connection.cursor() as cursor:
            # tenant-ok: the schema's catalog and DDL, no shop's rows
            cursor.execute("SELECT to_regclass(%s)", [model._meta.db_table])
            if cursor.fetchone()[0] is None:
                return ["shop_id"]
            # tenant-ok: the schema's catalog and DDL, no shop's rows
            cursor.execute(
                "SELECT a.attname FROM pg_constraint c CROSS JOIN unnest(c.conkey) AS k(attnum) JOIN pg_attribute a "
                "ON a.attrelid = c.conrelid AND a.attnum = k.attnum WHERE c.contype = 'p' AND c.conrelid = "
                "%s::regclass",
                [model._meta.db_table],
            )
            return [row[0] for row in cursor.fetchall()]

    def _replace_primary_key(self, model):
        table = model._meta.db_table
        for name in self._constraint_names(model, primary_key=True):
            # tenant-ok: the schema's catalog and DDL, no shop's rows
            self.execute(self._delete_primary_key_sql(model, name))
        self.execute(
            f"ALTER TABLE {self.quote_name(table)} ADD CONSTRAINT {self.quote_name(table + '_pkey')} "
            f"PRIMARY KEY (shop_id, {self.quote_name(model._meta.pk.column)})"
        )

    def _shop_fk_name(self, model, field) -> str:
        return self._create_index_name(model._meta.db_table, ["shop_id", field.column], suffix="_shop_fk")

    def _shop_fk_sql(self, model, field) -> str:
        # The referenced table needs its (shop_id, id) key now, before the deferred constraint is created.
        self.ensure_shop_key(field.related_model)
        return self.sql_create_shop_fk % {
            "table": self.quote_name(model._meta.db_table),
            "name": self.quote_name(self._shop_fk_name(model, field)),
            "column": self.quote_name(field.column),
            "to_table": self.quote_name(field.related_model._meta.db_table),
            "to_column": self.quote_name(field.target_field.column),
        }
