"""The database router installed when a replica is configured (DATABASE_REPLICA_URL, config/settings/base.py)."""

from django.db import DEFAULT_DB_ALIAS

from .replica import REPLICA_DB


class AnalyticsReplicaRouter:
    """Reads of the analytics app's models go to the replica; every write, and every other app's read, to the
    primary. The replica is a physical copy of the primary, so the schema is migrated on the primary only and rows
    on either may be related."""

    app_label = "analytics"

    def db_for_read(self, model, **hints):
        return REPLICA_DB if model._meta.app_label == self.app_label else None

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
