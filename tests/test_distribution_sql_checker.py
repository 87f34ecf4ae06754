"""tests/distribution_sql.py on statements written by hand: what it must pass and what it must refuse (the rule is
in its docstring), and tests/distribution_capture.py's wrapper on a connection of its own."""

import threading

import pytest
from django.db import connection, connections
from django.db.backends.signals import connection_created

from shops.distribution import shop_models

from .distribution_capture import DistributionQueries, Statement
from .distribution_sql import check_sql
from .test_distribution_queries import Allowed, allowed_as

SHOP_TABLES = {"members_member", "orders_order", "points_pointslot", "points_pointsentry", "coupons_coupon"}


def kinds(sql, params=None, **kwargs) -> list[str]:
    result = check_sql(sql, SHOP_TABLES, params, **kwargs)
    assert result.status == "checked", result
    return [v.kind for v in result.violations]


@pytest.mark.parametrize(
    "sql",
    [
        # the join ShopForeignKey makes, Django's quoting
        'SELECT "members_member"."id" FROM "members_member" INNER JOIN "orders_order" ON ("members_member"."id" = '
        '"orders_order"."member_id" AND ("members_member"."shop_id" = "orders_order"."shop_id")) '
        'WHERE "members_member"."shop_id" = %s',
        # aliases, upper case as Django's U0
        'SELECT U0."id" FROM "orders_order" U0 INNER JOIN "members_member" U1 ON (U0."member_id" = U1."id" AND '
        'U1."shop_id" = U0."shop_id")',
        # comma join, the equality in WHERE, written the other way round
        "SELECT 1 FROM members_member m, orders_order o WHERE o.member_id = m.id AND o.shop_id = m.shop_id",
        # transitive through a third shop table
        "SELECT 1 FROM members_member m JOIN orders_order o ON o.member_id = m.id AND o.shop_id = m.shop_id "
        "JOIN points_pointslot l ON l.order_id = o.id AND l.shop_id = o.shop_id",
        # both pinned to the same named parameter, and to the same literal
        "SELECT 1 FROM members_member m JOIN orders_order o ON o.member_id = m.id "
        "WHERE m.shop_id = %(shop)s AND o.shop_id = %(shop)s",
        "SELECT 1 FROM members_member m JOIN orders_order o ON o.member_id = m.id "
        "WHERE m.shop_id = 7 AND o.shop_id = 7",
        # one-value IN (django-scopes' filter) and a cast of the parameter
        "SELECT 1 FROM members_member m JOIN orders_order o ON o.member_id = m.id "
        "WHERE m.shop_id IN (%(shop)s) AND o.shop_id = %(shop)s::bigint",
        # LEFT JOIN with the equality in its ON, a USING, a row comparison, IS NOT DISTINCT FROM
        "SELECT 1 FROM members_member m LEFT OUTER JOIN orders_order o ON o.member_id = m.id AND o.shop_id = m.shop_id",
        "SELECT 1 FROM members_member m JOIN orders_order o USING (shop_id)",
        "SELECT 1 FROM members_member m JOIN orders_order o ON (o.shop_id, o.member_id) = (m.shop_id, m.id)",
        "SELECT 1 FROM members_member m JOIN orders_order o ON o.shop_id IS NOT DISTINCT FROM m.shop_id",
        # joins with tables that have no shop: the shop itself, a temporary table, VALUES, a function
        "SELECT 1 FROM members_member m JOIN shops_shop s ON s.id = m.shop_id JOIN tmp_ids t ON t.id = m.id "
        "JOIN (VALUES (1, 2)) AS v(id, delta) ON v.id = m.id CROSS JOIN generate_series(1, 3) g",
        # a derived table that exposes its shop_id, and one renamed by its alias
        "SELECT 1 FROM members_member m JOIN (SELECT o.shop_id, o.member_id, SUM(o.amount) AS total "
        "FROM orders_order o GROUP BY o.shop_id, o.member_id) d ON d.member_id = m.id AND d.shop_id = m.shop_id",
        "SELECT 1 FROM members_member m JOIN (SELECT shop_id, member_id FROM orders_order) AS d(s, mid) "
        "ON d.mid = m.id AND d.s = m.shop_id",
        # a derived table and a CTE exposing it through *
        "WITH o AS (SELECT * FROM orders_order) SELECT 1 FROM o JOIN members_member m ON m.shop_id = o.shop_id",
        # a derived table pinned to the same named parameter as its reader
        "SELECT 1 FROM members_member m JOIN (SELECT member_id FROM orders_order WHERE shop_id = %(shop)s) d "
        "ON d.member_id = m.id WHERE m.shop_id = %(shop)s",
        # a correlated subquery with the equality; an uncorrelated one stands alone
        "SELECT 1 FROM members_member m WHERE EXISTS (SELECT 1 FROM orders_order o WHERE o.member_id = m.id "
        "AND o.shop_id = m.shop_id)",
        "SELECT 1 FROM members_member m WHERE m.shop_id = %s AND m.id IN (SELECT U0.member_id FROM orders_order U0 "
        "WHERE U0.shop_id = %s)",
        # a correlated subquery pinned through the outer level's filter
        "SELECT 1 FROM members_member m WHERE m.shop_id = %(shop)s AND EXISTS (SELECT 1 FROM orders_order o "
        "WHERE o.member_id = m.id AND o.shop_id = %(shop)s)",
        # writes: UPDATE ... FROM, DELETE ... USING, INSERT ... SELECT, a data-modifying CTE read back by its key
        "UPDATE members_member AS m SET spend = d.total FROM (SELECT shop_id, member_id, SUM(amount) AS total "
        "FROM orders_order GROUP BY shop_id, member_id) d WHERE m.id = d.member_id AND m.shop_id = d.shop_id",
        "DELETE FROM points_pointslot l USING members_member m WHERE l.member_id = m.id AND l.shop_id = m.shop_id",
        "INSERT INTO points_pointsentry (shop_id, member_id) SELECT m.shop_id, m.id FROM members_member m "
        "JOIN orders_order o ON o.member_id = m.id AND o.shop_id = m.shop_id",
        "WITH e AS (INSERT INTO points_pointsentry (shop_id, member_id) VALUES (%s, %s) RETURNING shop_id, member_id) "
        "UPDATE members_member m SET points = 1 FROM e WHERE m.id = e.member_id AND m.shop_id = e.shop_id",
        # an UPDATE that sets other columns, and one that sets shop_id of a table without a shop
        "UPDATE members_member SET points = points + 1 WHERE shop_id = %s AND id = %s",
        "UPDATE audit_copy SET shop_id = %s WHERE id = %s",
        # `%%` is a percent sign when the statement has parameters
        "SELECT 1 FROM members_member m WHERE m.name LIKE 'a%%' AND m.shop_id = %s",
    ],
)
def test_statements_routable_by_shop_pass(sql):
    assert kinds(sql) == []


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1 FROM members_member m JOIN orders_order o ON o.member_id = m.id", ["join"]),
        (
            'SELECT 1 FROM "members_member" INNER JOIN "orders_order" ON ("members_member"."id" = '
            '"orders_order"."member_id") WHERE "members_member"."shop_id" = %s',
            ["join"],
        ),
        ("SELECT 1 FROM members_member m, orders_order o WHERE o.member_id = m.id", ["join"]),
        # the equality under OR or NOT guarantees nothing
        (
            "SELECT 1 FROM members_member m, orders_order o "
            "WHERE o.member_id = m.id AND (o.shop_id = m.shop_id OR 1 = 1)",
            ["join"],
        ),
        ("SELECT 1 FROM members_member m JOIN orders_order o ON NOT (o.shop_id <> m.shop_id)", ["join"]),
        # through a table without a shop the two shop tables are still joined
        (
            "SELECT 1 FROM members_member m JOIN tmp_ids t ON t.id = m.id JOIN orders_order o ON o.member_id = t.id",
            ["join"],
        ),
        # only two of three connected
        (
            "SELECT 1 FROM members_member m JOIN orders_order o ON o.shop_id = m.shop_id JOIN points_pointslot l "
            "ON l.member_id = m.id",
            ["join"],
        ),
        # different named parameters, and different literals
        (
            "SELECT 1 FROM members_member m JOIN orders_order o ON o.member_id = m.id WHERE m.shop_id = %(a)s "
            "AND o.shop_id = %(b)s",
            ["join"],
        ),
        (
            "SELECT 1 FROM members_member m JOIN orders_order o ON o.member_id = m.id WHERE m.shop_id = 1 "
            "AND o.shop_id = 2",
            ["join"],
        ),
        # a multi-value IN pins nothing
        (
            "SELECT 1 FROM members_member m JOIN orders_order o ON o.member_id = m.id WHERE m.shop_id IN (1, 2) "
            "AND o.shop_id IN (1, 2)",
            ["join"],
        ),
        # inside a subquery, a CTE, a derived table
        (
            "SELECT 1 FROM shops_shop s WHERE s.id IN (SELECT m.shop_id FROM members_member m LEFT JOIN orders_order o "
            "ON o.member_id = m.id)",
            ["join"],
        ),
        (
            "WITH x AS (SELECT m.id FROM members_member m JOIN orders_order o ON o.member_id = m.id) SELECT * FROM x",
            ["join"],
        ),
        ("SELECT * FROM (SELECT m.id FROM members_member m JOIN orders_order o ON o.member_id = m.id) d", ["join"]),
        # a derived table that hides its shop_id cannot be joined by it
        (
            "SELECT 1 FROM members_member m JOIN (SELECT member_id, SUM(amount) AS t FROM orders_order "
            "GROUP BY member_id) d ON d.member_id = m.id",
            ["join"],
        ),
        (
            "WITH w AS (SELECT o.member_id FROM orders_order o WHERE o.shop_id = %(a)s) UPDATE members_member AS m "
            "SET x = 1 FROM w WHERE m.id = w.member_id AND m.shop_id = %(b)s",
            ["join"],
        ),
        # the equality inside a subquery does not join the levels around it
        (
            "SELECT 1 FROM members_member m, orders_order o WHERE o.member_id = m.id AND EXISTS (SELECT 1 FROM "
            "coupons_coupon c WHERE c.shop_id = m.shop_id AND c.shop_id = o.shop_id)",
            ["join"],
        ),
        # correlated subqueries without the equality
        (
            "SELECT 1 FROM members_member m WHERE EXISTS (SELECT 1 FROM orders_order o WHERE o.member_id = m.id)",
            ["join"],
        ),
        (
            "SELECT m.id, (SELECT SUM(points) FROM points_pointsentry e WHERE e.member_id = m.id) "
            "FROM members_member m",
            ["join"],
        ),
        (
            "SELECT 1 FROM members_member m JOIN LATERAL (SELECT 1 FROM orders_order o WHERE o.member_id = m.id) x "
            "ON true",
            ["join", "join"],
        ),
        # writes
        ("UPDATE members_member m SET x = o.amount FROM orders_order o WHERE o.member_id = m.id", ["join"]),
        ("DELETE FROM points_pointslot l USING members_member m WHERE l.member_id = m.id", ["join"]),
        (
            "INSERT INTO points_pointsentry (member_id) SELECT m.id FROM members_member m JOIN orders_order o "
            "ON o.member_id = m.id",
            ["join"],
        ),
        (
            "CREATE TEMPORARY TABLE t AS SELECT m.id FROM members_member m WHERE EXISTS (SELECT 1 FROM "
            "points_pointslot l WHERE l.member_id = m.id)",
            ["join"],
        ),
        ("UPDATE members_member SET shop_id = %s WHERE id = %s", ["sets-shop-id"]),
        ('UPDATE "orders_order" SET "status" = %s, "shop_id" = %s WHERE "orders_order"."id" = %s', ["sets-shop-id"]),
        (
            "INSERT INTO members_member (shop_id, phone) VALUES (%s, %s) ON CONFLICT (phone) DO UPDATE "
            "SET shop_id = EXCLUDED.shop_id",
            ["sets-shop-id"],
        ),
    ],
)
def test_statements_not_routable_by_shop_fail(sql, expected):
    assert kinds(sql) == expected


def test_the_tables_given_decide_what_is_a_shop_table():
    sql = "SELECT 1 FROM members_member m JOIN orders_order o ON o.member_id = m.id"

    assert check_sql(sql, {"members_member"}).violations == []
    assert [v.tables for v in check_sql(sql, SHOP_TABLES).violations] == [("members_member", "orders_order")]


def test_positional_parameters_are_the_same_shop_only_when_the_run_gave_them_equal_values():
    sql = (
        "SELECT 1 FROM members_member m JOIN orders_order o ON o.member_id = m.id "
        "WHERE m.shop_id = %s AND o.shop_id = %s"
    )

    same = check_sql(sql, SHOP_TABLES, [5, 5])
    different = check_sql(sql, SHOP_TABLES, [5, 6])
    unknown = check_sql(sql, SHOP_TABLES, has_params=True)

    assert (same.violations, len(same.by_value)) == ([], 1)
    assert ([v.kind for v in different.violations], different.by_value) == (["join"], [])
    assert [v.kind for v in unknown.violations] == ["join"]


def test_a_correlated_subquery_pinned_to_the_outer_shop_value_passes_by_value():
    sql = (
        'SELECT COALESCE((SELECT SUM(U0."points") FROM "points_pointsentry" U0 WHERE (U0."shop_id" IN (%s) AND '
        'U0."member_id" = ("members_member"."id") AND U0."shop_id" = %s)), %s) FROM "members_member" '
        'WHERE ("members_member"."shop_id" IN (%s) AND "members_member"."shop_id" = %s)'
    )

    result = check_sql(sql, SHOP_TABLES, [3, 3, 0, 3, 3])

    assert (result.violations, len(result.by_value)) == ([], 1)


def test_psycopg_placeholders_and_percent_signs_are_read():
    sql = (
        "WITH v(id, seq) AS (SELECT id, seq FROM unnest(%b::uuid[], %t::bigint[]) WITH ORDINALITY AS r(id, seq, ord)) "
        "UPDATE orders_order SET seq = v.seq FROM v WHERE orders_order.shop_id = %(shop)b AND orders_order.id = v.id "
        "AND orders_order.note LIKE '%%x'"
    )

    assert check_sql(sql, SHOP_TABLES, {"shop": 1}).status == "checked"


@pytest.mark.parametrize(
    "sql",
    [
        'SAVEPOINT "s1_x1"',
        'RELEASE SAVEPOINT "s1_x1"',
        "SET LOCAL jit = off",
        "ALTER TABLE members_member ADD x int",
        'CREATE INDEX "i" ON "orders_order" ("shop_id", "member_id")',
        "DROP TABLE IF EXISTS tmp_ids",
    ],
)
def test_statements_of_other_kinds_are_skipped(sql):
    assert check_sql(sql, SHOP_TABLES).status == "skipped"


@pytest.mark.parametrize("sql", ["SELECT FROM WHERE )", "MERGE INTO members_member USING x ON true", "FROBNICATE 1"])
def test_a_statement_that_cannot_be_read_is_reported_not_passed(sql):
    result = check_sql(sql, SHOP_TABLES)

    assert (result.status, result.violations) == ("unparseable", [])
    assert result.error


@pytest.mark.django_db
def test_the_shop_tables_of_the_schema_include_the_ones_used_here():
    tables = {model._meta.db_table for model in shop_models()}

    assert tables >= SHOP_TABLES
    assert "shops_shop" not in tables


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_capture_records_each_text_once_with_its_test_and_origin_also_from_other_threads():
    capture = DistributionQueries()
    capture.nodeid = "tests/example.py::test_one"
    connection_created.connect(capture._connected, weak=False, dispatch_uid="capture-under-test")
    capture._install(connection)
    try:
        # when
        for _ in range(3):
            with connection.cursor() as cursor:
                cursor.execute("SELECT %s::int", [1])

        def in_a_thread():
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT 2")
            connections.close_all()

        thread = threading.Thread(target=in_a_thread)
        thread.start()
        thread.join()
    finally:
        connection_created.disconnect(dispatch_uid="capture-under-test")
        connection.execute_wrappers.remove(capture._wrapper)

    # then
    assert set(capture.statements) == {"SELECT %s::int", "SELECT 2"}
    first = capture.statements["SELECT %s::int"]
    assert (first.nodeid, first.params, first.has_params, capture.executed) == (
        "tests/example.py::test_one",
        (1,),
        True,
        4,
    )
    assert first.caller.startswith("tests/test_distribution_sql_checker.py:")


def test_an_allowed_statement_is_known_by_the_module_and_function_that_sent_it():
    allowed = {"ops rollup": Allowed("analytics/rollups.py rollups_all_shops", "a system-wide rollup")}

    def sent_by(origin: str) -> Statement:
        return Statement("tests/x.py::test", has_params=True, params=None, origin=origin, caller=origin)

    assert allowed_as(sent_by("analytics/rollups.py:40 rollups_all_shops"), allowed) == "ops rollup"
    assert allowed_as(sent_by("analytics/rollups.py:60 rollup_shop"), allowed) is None
    assert allowed_as(sent_by("members/selectors.py:40 rollups_all_shops"), allowed) is None
    assert allowed_as(sent_by(""), allowed) is None
