"""Raw SQL in app code names `shop_id`: a statement written by hand bypasses django-scopes, so the shop is the one
thing it must not forget. A statement that is cross-shop by nature (resolving the shop, a system-wide task), or
that touches no tenant row (a session setting, a temporary table), carries `# tenant-ok: <reason>` instead.

A raw statement is a call of cursor.execute/executemany, Manager.raw, QuerySet.extra, RawSQL, or a helper of
shops.bulk that takes SQL text or a table's columns (insert_rows, models_select). Its SQL is the text of the
call's string literals, of those assigned (in the same function or at module level) to the names it uses, and of
the module's functions it calls for them (so `sql = f"... WHERE shop_id = %s"`, then `cursor.execute(sql, params)`,
counts). The comment goes on a line of the call or on the comment lines right above it. Migrations are left out."""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The calls that send SQL text, and the arguments (positions, keywords) that hold it or, for insert_rows, the table
# and columns written; parameters are left out: a value is not the SQL. Methods match any object's (cursor.execute,
# Member.objects.raw, queryset.extra); functions match by name, imported or as an attribute (bulk.insert_rows).
RAW_SQL_METHODS = {
    "execute": ((0,), ("sql",)),
    "executemany": ((0,), ("sql",)),
    "raw": ((0,), ("raw_query",)),
    "extra": ((), ("select", "where", "tables", "order_by")),
}
RAW_SQL_FUNCTIONS = {
    "RawSQL": ((0,), ("sql",)),
    "insert_rows": ((0, 1), ("table", "columns")),
    "execute_counted": ((1,), ("sql",)),
    "models_select": ((1,), ("where",)),
}
MARK = "# tenant-ok:"


def _sql_arguments(call: ast.Call) -> list[ast.AST] | None:
    """The arguments of `call` that hold SQL text, or None when it is no raw SQL call."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    spec = RAW_SQL_FUNCTIONS.get(name) or (RAW_SQL_METHODS.get(name) if isinstance(func, ast.Attribute) else None)
    if spec is None:
        return None
    positions, keywords = spec
    if call.args and isinstance(call.args[0], ast.Starred):  # execute(*query): SQL and parameters together
        return [call.args[0].value]
    return [call.args[i] for i in positions if i < len(call.args)] + [
        keyword.value for keyword in call.keywords if keyword.arg in keywords
    ]


def _assignments(statements: list[ast.AST]) -> dict[str, list[ast.AST]]:
    """name -> the values assigned to it by `statements` (and, for a function, by anything nested in it), and the
    functions of that name that `statements` define."""
    found = defaultdict(list)
    for statement in statements:
        if isinstance(statement, ast.FunctionDef):
            found[statement.name].append(statement)
        for node in ast.walk(statement):
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr) and node.value is not None:
                targets = [node.target]
            else:
                continue
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        found[name.id].append(node.value)
    return found


def _sql_text(nodes: list[ast.AST], scopes: list[dict], seen: set[str]) -> str:
    """The string literals of `nodes` (docstrings aside), and of what the names they use stand for in `scopes`."""
    parts = []
    for node in nodes:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            parts.append(node.value)
        elif isinstance(node, ast.Name) and node.id not in seen:
            seen.add(node.id)
            parts.append(_sql_text([value for scope in scopes for value in scope.get(node.id, ())], scopes, seen))
        parts.append(_sql_text(list(ast.iter_child_nodes(node)), scopes, seen))
    return " ".join(parts)


def _marked(lines: list[str], call: ast.Call) -> bool:
    """Whether a line of the call, or a comment line right above it, says `# tenant-ok:`."""
    if any(MARK in line for line in lines[call.lineno - 1 : call.end_lineno]):
        return True
    above = call.lineno - 2
    while above >= 0 and lines[above].strip().startswith("#"):
        if MARK in lines[above]:
            return True
        above -= 1
    return False


def raw_sql_without_shop(source: str) -> list[tuple[int, str]]:
    """Lines of raw SQL statements whose SQL names no `shop_id` and that carry no `# tenant-ok:` comment."""
    lines = source.splitlines()
    module = ast.parse(source)
    found = []

    def visit(node: ast.AST, scopes: list[dict]) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scopes
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = [_assignments(child.body), *scopes]
            arguments = _sql_arguments(child) if isinstance(child, ast.Call) else None
            unnamed = arguments is not None and "shop_id" not in _sql_text(arguments, inner, set())
            if unnamed and not _marked(lines, child):
                found.append((child.lineno, lines[child.lineno - 1].strip()))
            visit(child, inner)

    visit(module, [_assignments(module.body)])
    return sorted(found)


def app_files() -> list[Path]:
    """The Python files of the project's own apps (those in INSTALLED_APPS that live in this repository)."""
    from django.apps import apps

    folders = {
        Path(config.path)
        for config in apps.get_app_configs()  # a virtual environment inside the checkout holds Django's own
        if Path(config.path).is_relative_to(ROOT) and ".venv" not in Path(config.path).relative_to(ROOT).parts
    }
    return sorted(path for folder in folders for path in folder.rglob("*.py") if "migrations" not in path.parts)


def test_raw_sql_names_the_shop_or_says_why_not():
    offences = [
        f"{path.relative_to(ROOT)}:{lineno}: {line}"
        for path in app_files()
        for lineno, line in raw_sql_without_shop(path.read_text(encoding="utf-8"))
    ]
    assert offences == [], "Name shop_id in the SQL (or explain with # tenant-ok:):\n" + "\n".join(offences)


def test_the_sql_guard_sees_every_app():
    names = {str(path.relative_to(ROOT)) for path in app_files()}
    assert {"shops/bulk.py", "members/services.py", "orders/services.py", "coupons/issuance.py"} <= names
    assert not any("migrations" in name for name in names)


def test_the_sql_guard_follows_names_and_accepts_a_justified_statement():
    source = (
        "LOOKUP = 'SELECT id FROM shops_shop WHERE slug = %s'\n"
        "COLUMNS = [('shop_id', 'int'), ('name', 'text')]\n"
        "def work(cursor, shop):\n"
        "    cursor.execute('UPDATE members_member SET name = %s WHERE id = %s', ['a', 1])\n"
        "    cursor.execute('UPDATE members_member SET name = %s WHERE shop_id = %s', ['a', shop.pk])\n"
        "    sql = 'DELETE FROM members_tag'\n"
        "    sql += ' WHERE shop_id = %s'\n"
        "    cursor.execute(sql, [shop.pk])\n"
        "    insert_rows('members_tag', COLUMNS, [])\n"
        "    Shop.objects.raw(LOOKUP, ['x'])\n"
        "    # tenant-ok: resolving the shop\n"
        "    Shop.objects.raw(LOOKUP, ['y'])\n"
        "    cursor.execute(\n"
        "        'SET LOCAL jit = off'  # tenant-ok: a setting, no rows\n"
        "    )\n"
        "    qs.filter(RawSQL('id = %s', [1]))\n"
        "    cursor.execute(*_sql(shop))\n"
        "    cursor.execute(*_documented())\n"
        "    cursor.execute('UPDATE coupons_coupontemplate SET issued = 1 WHERE id = %s', [_shop_id(shop)])\n"
        "def _shop_id(shop):\n"
        "    return 'shop_id'\n"
        "def _sql(shop):\n"
        "    return 'SELECT 1 FROM points_pointslot WHERE shop_id = %s', [shop.pk]\n"
        "def _documented():\n"
        '    """Not the shop_id of the SQL."""\n'
        "    return 'SELECT 1 FROM points_pointslot', []\n"
    )
    assert raw_sql_without_shop(source) == [
        (4, "cursor.execute('UPDATE members_member SET name = %s WHERE id = %s', ['a', 1])"),
        (10, "Shop.objects.raw(LOOKUP, ['x'])"),
        (16, "qs.filter(RawSQL('id = %s', [1]))"),
        (18, "cursor.execute(*_documented())"),
        (19, "cursor.execute('UPDATE coupons_coupontemplate SET issued = 1 WHERE id = %s', [_shop_id(shop)])"),
    ]
