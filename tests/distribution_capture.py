"""Captures every SQL statement the tests run on PostgreSQL, for tests/test_distribution_queries.py.

Registered by tests/conftest.py. It records only when that test is among the collected ones (the whole suite, or a
subset named together with it) and the database is PostgreSQL; then it installs one `execute_wrapper` on every
connection as it opens (Django's `connection_created` signal: the test thread, live-server threads, threads of
race tests) and keeps each distinct SQL text once, with the first test that ran it and the app code that sent it.
The test is moved to the end of the run and checks what was captured (tests/distribution_sql.py).

Not recorded: the test database's creation and migrations (`django_db_setup`), migrations a test runs itself (a
migration's backfill is the coordinator's cross-shard work by design, not a query the application routes), and
anything outside a test's setup, call and teardown.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connections
from django.db.backends.signals import connection_created

ROOT = Path(__file__).resolve().parent.parent
FINAL_TEST = "tests/test_distribution_queries.py"
PLUGIN_NAME = "distribution-queries"
# Fixtures whose statements are not the application's: the test database's creation and migrations.
UNRECORDED_FIXTURES = frozenset({"django_db_setup"})
# Transaction control that Django names afresh each time: counted, not kept (the checker skips it by kind).
_SAVEPOINTS = ("SAVEPOINT ", "RELEASE SAVEPOINT ", "ROLLBACK TO SAVEPOINT ")
_LIBRARY_PARTS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}.venv{os.sep}", f"{os.sep}lib{os.sep}python")


@dataclass
class Statement:
    nodeid: str  # the first test that ran it
    has_params: bool
    params: object  # the parameters of its first run (None for executemany and long lists)
    origin: str  # the innermost frame of app code that sent it ("" when only tests and libraries did)
    caller: str  # the innermost frame of this project (app or tests)


class DistributionQueries:
    def __init__(self):
        self.statements: dict[str, Statement] = {}
        self.active = False
        self.nodeid: str | None = None
        self.paused = 0
        self.executed = 0  # statements run while recording, repeats included
        self.savepoints = 0  # savepoint statements among them, not kept
        self.seconds = 0.0  # time spent in the wrapper's bookkeeping
        self._lock = threading.Lock()

    # which tests, and in which order

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        final = [item for item in items if item.nodeid.startswith(FINAL_TEST)]
        if final:
            items[:] = [item for item in items if item not in final] + final

    def pytest_collection_finish(self, session):
        from django.conf import settings

        has_final = any(item.nodeid.startswith(FINAL_TEST) for item in session.items)
        others = [item for item in session.items if not item.nodeid.startswith(FINAL_TEST)]
        postgres = "postgresql" in settings.DATABASES["default"]["ENGINE"]
        if has_final and others and postgres:
            self.active = True
            connection_created.connect(self._connected, weak=False, dispatch_uid=PLUGIN_NAME)
            for connection in connections.all():
                self._install(connection)

    # when to record

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item):
        self.nodeid = None if item.nodeid.startswith(FINAL_TEST) else item.nodeid
        try:
            yield
        finally:
            self.nodeid = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef):
        if fixturedef.argname not in UNRECORDED_FIXTURES:
            yield
            return
        self.paused += 1
        try:
            yield
        finally:
            self.paused -= 1

    # the wrapper

    def _connected(self, sender, connection, **kwargs):
        self._install(connection)

    def _install(self, connection):
        if connection.vendor == "postgresql" and self._wrapper not in connection.execute_wrappers:
            connection.execute_wrappers.insert(0, self._wrapper)

    def _wrapper(self, execute, sql, params, many, context):
        if self.nodeid is not None and not self.paused:
            started = time.perf_counter()
            self.executed += 1
            if sql not in self.statements:
                if isinstance(sql, str) and sql.startswith(_SAVEPOINTS):
                    self.savepoints += 1
                else:
                    self._record(sql, params, many)
            self.seconds += time.perf_counter() - started
        return execute(sql, params, many, context)

    def _record(self, sql, params, many):
        if _in_migration():
            return
        origin, caller = _frames()
        text = sql if isinstance(sql, str) else str(sql)
        statement = Statement(
            self.nodeid or "",
            has_params=many or params is not None,
            params=_copy(params, many),
            origin=origin,
            caller=caller,
        )
        with self._lock:
            self.statements.setdefault(text, statement)


def _copy(params, many):
    """The parameters of one run, as the checker compares them (only constants equated to shop_id matter)."""
    if many or params is None:
        return None
    if isinstance(params, dict):
        return dict(params)
    return tuple(params) if len(params) <= 1000 else None


_MIGRATIONS = f"{os.sep}django{os.sep}db{os.sep}migrations{os.sep}"


def _in_migration() -> bool:
    """Whether Django's migration machinery sent the statement (a test that migrates backwards and forwards)."""
    frame = sys._getframe(2)
    while frame is not None:
        if _MIGRATIONS in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def _frames() -> tuple[str, str]:
    """The innermost frames of app code and of this project (tests included) on the current stack."""
    origin = caller = ""
    frame = sys._getframe(2)
    here = str(Path(__file__).resolve())
    root = str(ROOT) + os.sep
    tests = str(ROOT / "tests") + os.sep
    while frame is not None and not origin:
        filename = frame.f_code.co_filename
        if filename.startswith(root) and filename != here and not any(p in filename for p in _LIBRARY_PARTS):
            where = f"{filename[len(root) :]}:{frame.f_lineno} {frame.f_code.co_name}"
            caller = caller or where
            if not filename.startswith(tests):
                origin = where
        frame = frame.f_back
    return origin, caller
