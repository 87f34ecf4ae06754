"""The schema as migrated is distributable by shop_id on Citus (shops.distribution): read from PostgreSQL's catalog,
so that it holds for every table every migration makes, the ones of later issues included."""

import pytest
from django.db import connection

from shops.distribution import REFERENCE_MODELS, ShopForeignKey, is_distributed_model, is_shop_model, shop_models

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

CONSTRAINTS = """
    SELECT c.conrelid::regclass::text, c.conname, c.contype, c.confrelid::regclass::text,
           ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
           ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)
    FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
    WHERE t.relnamespace = 'public'::regnamespace AND c.contype IN ('p', 'u', 'f')
"""
# Unique indexes that are no constraint (a UniqueConstraint with a condition is one of those).
UNIQUE_INDEXES = """
    SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text,
           ARRAY(SELECT a.attname FROM unnest(i.indkey) k(n) JOIN pg_attribute a
                 ON a.attrelid = i.indrelid AND a.attnum = k.n)
    FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
    WHERE t.relnamespace = 'public'::regnamespace AND i.indisunique
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""
# Every plain index of a table with a shop (a unique one, such as "one program per shop", is a rule, not a cost).
SHOP_INDEXES = """
    SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text,
           ARRAY(SELECT a.attname FROM unnest(i.indkey) k(n) JOIN pg_attribute a
                 ON a.attrelid = i.indrelid AND a.attnum = k.n)
    FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
    WHERE t.relnamespace = 'public'::regnamespace AND NOT i.indisunique
      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attname = 'shop_id')
"""
SHOP_ID_TABLES = """
    SELECT t.relname FROM pg_class t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = 'shop_id'
    WHERE t.relnamespace = 'public'::regnamespace AND t.relkind = 'r' AND NOT a.attisdropped
"""


def rows(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def tables(models):
    return {model._meta.db_table for model in models}


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return {
            "constraints": rows(CONSTRAINTS),
            "indexes": rows(UNIQUE_INDEXES),
            "shop_indexes": rows(SHOP_INDEXES),
            "shop_id": rows(SHOP_ID_TABLES),
        }


def test_every_table_with_a_shop_id_is_a_shop_model(catalog):
    """The rules below are keyed by the models: a table with a shop_id column that is no shop model would escape."""
    assert {name for (name,) in catalog["shop_id"]} == tables(shop_models())
    assert len(shop_models()) >= 40


def test_every_shop_table_has_a_primary_key_with_its_shop(catalog):
    keys = {table: columns for table, _, kind, _, columns, _ in catalog["constraints"] if kind == "p"}
    assert {table: keys.get(table) for table in tables(shop_models()) if "shop_id" not in keys.get(table, [])} == {}


def test_every_unique_key_of_a_distributed_table_contains_its_shop(catalog):
    distributed = tables(m for m in shop_models() if is_distributed_model(m))
    unique = [(table, name, columns) for table, name, kind, _, columns, _ in catalog["constraints"] if kind == "u"]
    unique += catalog["indexes"]
    assert [key for key in unique if key[0] in distributed and "shop_id" not in key[2]] == []


def test_every_foreign_key_between_shop_tables_pairs_their_shops(catalog):
    shop_tables = tables(shop_models())
    between = [c for c in catalog["constraints"] if c[2] == "f" and c[0] in shop_tables and c[3] in shop_tables]
    assert [c for c in between if ("shop_id", "shop_id") not in zip(c[4], c[5], strict=True)] == []
    assert len(between) >= 44  # the relations the issue counted, and every one since


def test_no_table_kept_whole_on_every_node_points_to_a_distributed_one(catalog):
    """Citus refuses a foreign key from a reference (or coordinator-local) table to a distributed table."""
    distributed = tables(m for m in shop_models() if is_distributed_model(m))
    wrong = [c[:2] for c in catalog["constraints"] if c[2] == "f" and c[3] in distributed and c[0] not in distributed]
    assert wrong == []


def test_relations_between_shop_models_are_shop_foreign_keys():
    """The one way to declare one (shops.distribution): a plain ForeignKey's joins would not carry the shop."""
    plain = [
        f"{model._meta.label}.{field.name}"
        for model in shop_models()
        for field in model._meta.local_fields
        if field.is_relation and field.name != "shop" and is_shop_model(field.related_model)
        if not isinstance(field, ShopForeignKey)
    ]
    assert plain == []


def test_reference_models_are_shop_models():
    assert {m._meta.label for m in shop_models() if not is_distributed_model(m)} == REFERENCE_MODELS


def test_no_shop_table_indexes_its_shop_alone(catalog):
    """The primary key (shop_id, id) starts with the shop, so an index on shop_id alone would only cost writes."""
    assert [(table, name) for table, name, columns in catalog["shop_indexes"] if columns == ["shop_id"]] == []
