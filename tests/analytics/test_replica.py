"""Analytics reads on a real streaming replica (DATABASE_REPLICA_URL; CI makes one with scripts/replica.sh): a row
committed on the primary is read back from the replica once replayed, and the replica refuses writes.

Transactional tests: a row streams to the replica only once committed. The replica holds the test database because
it copies the primary's whole cluster (tests/conftest.py, django_db_modify_db_settings)."""

import time
from types import SimpleNamespace

import psycopg
import pytest
from django.conf import settings
from django.db import InternalError, connections, router

from analytics.replica import READ_DB
from members.models import Member
from tests.factories import MemberFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        "replica" not in settings.DATABASES,
        reason="no read replica (set DATABASE_REPLICA_URL; CI makes one with scripts/replica.sh)",
    ),
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]

AnalyticsModel = SimpleNamespace(_meta=SimpleNamespace(app_label="analytics", model_name="dailyfigure"))


def wait_for_replica(timeout: float = 10.0) -> None:
    """Return once the replica has replayed everything the primary has written so far; fail after `timeout` s.

    Polled on the replica's maintenance database: the test database may not have reached it yet."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        (written,) = cursor.fetchone()
    replica = connections["replica"].settings_dict
    params = {"host": replica["HOST"], "port": replica["PORT"], "user": replica["USER"], "dbname": "postgres"}
    if replica["PASSWORD"]:
        params["password"] = replica["PASSWORD"]
    deadline = time.monotonic() + timeout
    with psycopg.connect(**params, autocommit=True) as replica_connection:
        while True:
            replayed, caught_up = replica_connection.execute(
                "SELECT pg_last_wal_replay_lsn()::text, pg_last_wal_replay_lsn() >= %s::pg_lsn", [written]
            ).fetchone()
            if caught_up:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"the replica replayed up to {replayed} only, the primary wrote up to {written}")
            time.sleep(0.05)


def server_of(alias: str) -> tuple[bool, int]:
    """(in recovery, port) of the server behind the connection `alias`."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
        return cursor.fetchone()


def test_analytics_reads_the_replica_and_writes_to_the_primary():
    assert READ_DB == "replica"
    assert router.db_for_read(AnalyticsModel) == "replica"
    assert router.db_for_write(AnalyticsModel) == "default"
    assert router.db_for_read(Member) == "default"
    assert server_of("default") == (False, int(connections["default"].settings_dict["PORT"]))
    assert server_of(READ_DB) == (True, int(connections["replica"].settings_dict["PORT"]))


def test_a_committed_row_is_read_from_the_replica(shop):
    # given: a member enrolled (and committed) on the primary
    member = MemberFactory(shop=shop, name="复制读")
    wait_for_replica()

    # when
    read = Member.objects.using(READ_DB).get(pk=member.pk)

    # then: the row came from the replica, a server in recovery
    assert (read.phone, read.name, read._state.db) == (member.phone, "复制读", "replica")
    assert server_of(READ_DB)[0] is True


def test_the_replica_refuses_writes(shop):
    # given
    member = MemberFactory(shop=shop, name="只读")
    wait_for_replica()

    # when / then: PostgreSQL refuses, it is not merely our router that keeps writes away
    with pytest.raises(InternalError, match="cannot execute UPDATE in a read-only transaction"):
        Member.objects.using(READ_DB).filter(pk=member.pk).update(name="改名")

    # and nothing changed, on either server
    wait_for_replica()
    assert Member.objects.get(pk=member.pk).name == "只读"
    assert Member.objects.using(READ_DB).get(pk=member.pk).name == "只读"
