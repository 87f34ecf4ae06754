"""The migration operation that converted the tables made before the schema became distributable by shop."""

from django.db import migrations


class ShopKeys(migrations.operations.base.Operation):
    """Gives every shop's table of one app its `(shop_id, id)` primary key (shops.postgresql.schema). Tables made
    since are born with it, so later migrations never need this; it is a no-op on SQLite and when run again."""

    reversible = True
    reduces_to_sql = False

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if hasattr(schema_editor, "ensure_shop_key"):
            for model in to_state.apps.get_app_config(app_label).get_models():
                schema_editor.ensure_shop_key(model)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass  # the composite keys serve the older code as well

    def describe(self):
        return "Give every shop table the primary key (shop_id, id)"

    @property
    def migration_name_fragment(self):
        return "shop_keys"
