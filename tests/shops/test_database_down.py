"""PostgreSQL restarting: a request whose database connection is gone answers 503 with Retry-After (the API in its
error format, pages with a plain page), and the next request, once the server is back, works. A database error that
is ours (an integrity or a programming error) stays a 500, so it is seen."""

import time
from contextlib import nullcontext

import psycopg
import pytest
from django.db import (
    IntegrityError,
    OperationalError,
    ProgrammingError,
    close_old_connections,
    connection,
    connections,
    transaction,
)
from django.test import Client

from orders.models import Order
from tests.coupons.helpers import make_member

pytestmark = pytest.mark.django_db


def _terminate_own_connection() -> None:
    """End this thread's database session from a second connection, as a server restart ends every session, and
    wait until it is gone: the next query on it raises OperationalError (57P01 or "the connection is closed")."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            for _ in range(100):
                cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
                if cursor.fetchone() is None:
                    return
                time.sleep(0.05)
        raise AssertionError(f"backend {pid} did not end")
    finally:
        other.close()


def _server_side_request_end() -> None:
    """What a server does at the end (and start) of every request: close a connection that had errors and is no
    longer usable (CONN_HEALTH_CHECKS). Django's test client leaves these signals out, so the test calls it."""
    close_old_connections()


@pytest.fixture
def fresh_connection_after():
    yield
    connection.close()  # whatever the test left, the next one starts on a new connection


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_api_answers_503_while_the_database_is_gone_then_recovers(shop, api_client, fresh_connection_after):
    assert api_client.get("/api/v1/tiers/").status_code == 200

    _terminate_own_connection()
    response = api_client.get("/api/v1/tiers/")

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["details"] == {"retry_after": int(response["Retry-After"])}

    _server_side_request_end()
    response = api_client.get("/api/v1/tiers/")
    assert response.status_code == 200 and len(response.json()) == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_lean_order_write_answers_503_while_the_database_is_gone(shop, api_client, fresh_connection_after):
    order = {"external_id": "o-1", "phone": "13800138000", "amount": "100.00", "paid_at": "2024-05-01T10:00:00+08:00"}
    assert api_client.get("/api/v1/tiers/").status_code == 200

    _terminate_own_connection()
    response = api_client.post("/api/v1/orders/", order, format="json")
    assert response.status_code == 503 and response.json()["code"] == "service_unavailable"

    _server_side_request_end()
    response = api_client.post("/api/v1/orders/", order, format="json")
    assert response.status_code == 201
    assert Order.objects.filter(shop=shop, external_id="o-1").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_pages_answer_a_503_page_while_the_database_is_gone_then_recover(shop, owner_client, fresh_connection_after):
    make_member(shop, 1, name="韩梅梅")
    shopper = Client()
    assert owner_client.get(f"/dashboard/{shop.slug}/members/").status_code == 200

    _terminate_own_connection()
    response = owner_client.get(f"/dashboard/{shop.slug}/members/")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert "服务暂时不可用" in response.content.decode()

    # a shopper page, on the same dead connection until a request ends
    response = shopper.get(f"/m/{shop.slug}/")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0

    _server_side_request_end()
    response = owner_client.get(f"/dashboard/{shop.slug}/members/")
    assert response.status_code == 200 and "韩梅梅" in response.content.decode()
    assert shopper.get(f"/m/{shop.slug}/").status_code == 200


def _raised(*statements: tuple[str, list], atomic: bool = True) -> Exception:
    """What the last of `statements`, run in one transaction (or in autocommit), raised."""
    try:
        with transaction.atomic() if atomic else nullcontext(), connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
    except Exception as exc:  # noqa: BLE001 - the test looks at what was raised
        return exc
    raise AssertionError(f"{statements} did not fail")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_only_a_lost_or_refused_connection_counts_as_the_database_being_down(shop, fresh_connection_after):
    from shops.availability import database_unreachable

    # errors of ours stay 500s, a statement that ran too long too (it is not the server going away)
    integrity = _raised(("INSERT INTO shops_shop (id) SELECT id FROM shops_shop WHERE id = %s", [shop.pk]))
    assert isinstance(integrity, IntegrityError) and not database_unreachable(integrity)
    programming = _raised(("SELECT no_such_column FROM shops_shop", []))
    assert isinstance(programming, ProgrammingError) and not database_unreachable(programming)
    timeout = _raised(("SET LOCAL statement_timeout = 1", []), ("SELECT pg_sleep(1)", []))
    assert isinstance(timeout, OperationalError) and not database_unreachable(timeout)

    # a session ended by the server, then the closed connection it leaves, then a refused connection
    _terminate_own_connection()
    # (autocommit: a transaction's end would close the broken connection, and the next query would reconnect)
    ended = _raised(("SELECT 1", []), atomic=False)
    closed = _raised(("SELECT 1", []), atomic=False)
    assert "closed" in str(closed)
    assert isinstance(ended, OperationalError) and database_unreachable(ended)
    assert isinstance(closed, OperationalError) and database_unreachable(closed)
    refused = _refused_connection_error()
    assert isinstance(refused, OperationalError) and database_unreachable(refused)


def _refused_connection_error() -> Exception:
    down = connections.create_connection("default")
    down.settings_dict = {**down.settings_dict, "PORT": 1}  # nothing listens on port 1
    try:
        down.ensure_connection()
    except Exception as exc:  # noqa: BLE001 - the test looks at what was raised
        return exc
    finally:
        down.close()
    raise AssertionError("a connection to port 1 succeeded")


def test_sqlite_and_other_errors_never_count_as_the_database_being_down():
    from shops.availability import database_unreachable

    locked = OperationalError("database is locked")
    locked.__cause__ = Exception("database is locked")
    assert not database_unreachable(locked)
    assert not database_unreachable(IntegrityError("duplicate"))
    ended = OperationalError("terminating connection due to administrator command")
    ended.__cause__ = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    assert database_unreachable(ended)
