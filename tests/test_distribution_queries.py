"""Every statement the test suite runs can be routed to the one node that holds its shop (shops.distribution).

tests/distribution_capture.py records each distinct SQL text that the other collected tests send to PostgreSQL;
this test runs last and reads them all with tests/distribution_sql.py (the rule is in its docstring): a join
between two shop tables without a shop_id equality, or an UPDATE that sets shop_id, fails it, and so does a
statement that cannot be read. The report (every finding with its statement, the app code that sent it and the
first test that ran it) goes to $TEST_OUTPUT_DIR/distribution-queries.txt (default test-output/); with
DISTRIBUTION_QUERIES_DUMP=1, every captured statement also goes to distribution-queries.jsonl beside it.

It checks what the run in which it is collected executed: the whole suite, or a subset named with it
(`pytest tests/points tests/test_distribution_queries.py`). Alone, or on SQLite, it has nothing to read and skips.

Statements that are cross-shop by design are allowed below by the app function that sends them, each with its
reason; ordinary app queries are never allowed here, they are fixed.
"""

import json
import os
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from shops.distribution import shop_models

from .distribution_capture import PLUGIN_NAME, ROOT, Statement
from .distribution_sql import check_sql

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class Allowed:
    origin: str  # "path/to/module.py function" of the app code that sends the statement
    reason: str


# Statements that are cross-shop by design (the ops admin, system-wide rollups: `..._all_shops`), by name. None
# of the statements the suite runs needs one today: the admin's joins follow ShopForeignKey, which names shop_id.
ALLOWED: dict[str, Allowed] = {}


def allowed_as(statement: Statement, allowed: dict[str, Allowed]) -> str | None:
    """The name under which `allowed` lets the statement's findings pass, by the app function that sent it."""
    path, _, rest = statement.origin.partition(":")
    function = rest.partition(" ")[2]
    for name, entry in allowed.items():
        if entry.origin == f"{path} {function}":
            return name
    return None


def _report_path() -> Path:
    return Path(os.environ.get("TEST_OUTPUT_DIR") or ROOT / "test-output") / "distribution-queries.txt"


def test_every_statement_routes_to_one_shop(request):
    plugin = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is None or not plugin.active:
        pytest.skip("captures only on PostgreSQL, when other tests run in the same session")
    assert plugin.statements, "the capture recorded no statement: the execute wrapper is not installed"
    tables = {model._meta.db_table for model in shop_models()}

    # when
    started = time.perf_counter()
    findings, unparseable, by_value, allowed = [], [], [], defaultdict(int)
    counts = defaultdict(int)
    for sql, statement in plugin.statements.items():
        result = check_sql(sql, tables, statement.params, has_params=statement.has_params)
        if result.by_value:
            by_value.append((sql, statement, result.by_value))
        counts[result.status] += 1
        if result.status == "unparseable":
            unparseable.append((sql, statement, result.error))
        elif result.violations:
            name = allowed_as(statement, ALLOWED)
            if name:
                allowed[name] += 1
            else:
                findings.append((sql, statement, result.violations))
    checking = time.perf_counter() - started

    # then
    summary = (
        f"{len(plugin.statements)} distinct statements ({plugin.executed} executed, {plugin.savepoints} savepoint "
        "statements among them not kept) from the tests; "
        f"{counts['checked']} checked, {counts['skipped']} skipped by kind, {len(unparseable)} unparseable; "
        f"{len(findings)} with violations, {sum(allowed.values())} allowed "
        f"({', '.join(f'{n}: {c}' for n, c in sorted(allowed.items())) or 'none'}), "
        f"{len(by_value)} routable only by equal parameter values; "
        f"capture {plugin.seconds:.2f} s, check {checking:.2f} s"
    )
    path = _report_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_report(summary, findings, unparseable, by_value), encoding="utf-8")
    if os.environ.get("DISTRIBUTION_QUERIES_DUMP"):
        _dump(plugin.statements, path.with_suffix(".jsonl"))
    print(f"\n{summary}\nreport: {path}")
    by_origin = defaultdict(list)
    for _sql, statement, violations in findings:
        by_origin[statement.origin or f"(tests) {statement.caller}"].extend(v.detail for v in violations)
    listed = "\n".join(f"  {origin}: {details[0]}" for origin, details in sorted(by_origin.items()))
    assert not findings and not unparseable, f"{summary}\nreport: {path}\n{listed}"


def _report(summary: str, findings: list, unparseable: list, by_value: list) -> str:
    lines = [summary, ""]
    for sql, statement, violations in sorted(findings, key=lambda f: (f[1].origin, f[1].caller, f[0])):
        lines.append(f"== {statement.origin or '(no app code)'}  via {statement.caller}")
        lines.append(f"   first test: {statement.nodeid}")
        lines.extend(f"   {v.kind}: {v.detail}" for v in violations)
        lines.extend(["   " + sql, ""])
    for sql, statement, error in unparseable:
        lines.append(f"== unparseable ({error}): {statement.origin or statement.caller}")
        lines.append(f"   first test: {statement.nodeid}")
        lines.extend(["   " + sql, ""])
    lines.append("-- Routable only because the run gave the shop filters of both sides equal values (not failures):")
    for sql, statement, notes in sorted(by_value, key=lambda f: (f[1].origin, f[1].caller, f[0])):
        lines.append(f"== {statement.origin or '(no app code)'}  via {statement.caller}")
        lines.append(f"   first test: {statement.nodeid}")
        lines.extend(f"   {note}" for note in notes)
        lines.extend(["   " + sql, ""])
    return "\n".join(lines)


def _dump(statements: dict, path: Path) -> None:
    """Every captured statement as JSON lines, to check again offline (tests/distribution_sql.py)."""
    with path.open("w", encoding="utf-8") as out:
        for sql, statement in statements.items():
            params = statement.params
            if isinstance(params, dict):
                params = {k: v if _json_value(v) else None for k, v in params.items()}
            elif params is not None:
                params = [v if _json_value(v) else None for v in params]
            record = {**asdict(statement), "params": params, "sql": sql}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _json_value(value) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)
