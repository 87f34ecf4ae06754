"""The member row's cached figures (aggregates, rolling windows, balances, tier) have one writer, members.figures
(SPEC 9): the apps that own their meaning ask it. A statement elsewhere that sets one of these columns fails here; a
line that sets a column of the same name on another model says so with `# figures-ok: <reason>`."""

import ast
import re
from pathlib import Path

from tests.test_architecture import APPS, ROOT

FIGURES_MODULE = "members/figures.py"
FIGURE_COLUMNS = frozenset(
    {
        "lifetime_spend",
        "order_count",
        "first_order_at",
        "last_order_at",
        "spend_12m",
        "orders_12m",
        "points_balance",
        "points_pending",
        "growth_value",
        "tier",
        "tier_id",
        "tier_until",
    }
)
# UPDATE <table> [AS alias] SET <assignments> up to FROM, WHERE or RETURNING; the table is members_member or a
# name interpolated into an f-string (a model's db_table).
SQL_UPDATE = re.compile(
    r"\bUPDATE\s+(?:members_member|\{[^}]*\})(?:\s+AS\s+\w+)?\s+SET\s+(?P<set>.*?)(?=\bFROM\b|\bWHERE\b|\bRETURNING\b|$)",
    re.IGNORECASE | re.DOTALL,
)
SQL_ASSIGNED = re.compile(r"(?<![.\w])(\{[^}]*\}|\w+)\s*=(?!=)")  # a column, or one interpolated: any of them


def _string_text(node: ast.AST) -> str:
    """A string literal's text; an f-string's with each interpolation as `{expression}`."""
    if isinstance(node, ast.Constant):
        return node.value
    return "".join(v.value if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}" for v in node.values)


def _named_columns(node: ast.AST | None) -> set[str]:
    """The string constants of a list or tuple literal (update_fields=[...])."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def member_figure_writes(source: str) -> list[tuple[int, str]]:
    """Lines that write a cached figure of the member row: raw SQL `UPDATE members_member ... SET <figure> =`,
    `.update(<figure>=...)`, `.save(update_fields=[<figure>, ...])` and `bulk_update(..., [<figure>, ...])`."""
    tree = ast.parse(source)
    lines = source.splitlines()
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    found = []
    for node in ast.walk(tree):
        written: set[str] = set()
        if isinstance(node, ast.JoinedStr) or (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts
        ):
            for update in SQL_UPDATE.finditer(_string_text(node)):
                targets = set(SQL_ASSIGNED.findall(update["set"]))
                written |= {t for t in targets if t in FIGURE_COLUMNS or t.startswith("{")}
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            keywords = {k.arg: k.value for k in node.keywords}
            if node.func.attr == "update":
                written = set(keywords) & FIGURE_COLUMNS
            elif node.func.attr == "save":
                written = _named_columns(keywords.get("update_fields")) & FIGURE_COLUMNS
            elif node.func.attr == "bulk_update":
                fields = keywords.get("fields") or (node.args[1] if len(node.args) > 1 else None)
                written = _named_columns(fields) & FIGURE_COLUMNS
        line = lines[node.lineno - 1] if written else ""
        if written and "# figures-ok:" not in line:
            found.append((node.lineno, line.strip()))
    return sorted(set(found))


def app_modules() -> list[Path]:
    return [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    ]


def test_only_members_figures_writes_the_member_figures():
    offences = [
        f"{path.relative_to(ROOT)}:{lineno}: {line}"
        for path in app_modules()
        if str(path.relative_to(ROOT)) != FIGURES_MODULE
        for lineno, line in member_figure_writes(path.read_text(encoding="utf-8"))
    ]
    assert offences == [], "Ask members.figures to write the member's cached figures:\n" + "\n".join(offences)


def test_the_figures_guard_sees_the_writes_of_members_figures():
    # The guard reads the SQL and the ORM calls members.figures writes with: it would see them anywhere else.
    writes = member_figure_writes((ROOT / FIGURES_MODULE).read_text(encoding="utf-8"))
    assert len(writes) == 9


def test_the_figures_guard_catches_each_way_of_writing_a_figure():
    source = (
        "def f(shop, member, members, rows):\n"
        '    cursor.execute("UPDATE members_member SET spend_12m = 0 WHERE shop_id = %s", [shop.pk])\n'
        '    cursor.execute(f"""UPDATE {members} AS m SET points_balance = m.points_balance - d.total\n'
        '        FROM d WHERE m.id = d.member_id""")\n'
        "    Member.objects.filter(pk=member.pk).update(tier=None, tier_until=None)\n"
        '    member.save(update_fields=["growth_value"])\n'
        '    Member.objects.bulk_update(rows, ["order_count"])\n'
        '    cursor.execute(f"UPDATE members_member AS m SET {column} = m.{column} + v.delta FROM v")\n'
        '    cursor.execute("UPDATE members_member AS m SET name = %s WHERE m.tier_id = %s", [name, tier])\n'
        '    cursor.execute(f"UPDATE {lots} SET remaining = 0 WHERE member_id IN (SELECT id FROM m)")\n'
        "    member.save(update_fields=['name', 'updated_at'])\n"
        "    Member.objects.filter(pk=member.pk).update(status='frozen')\n"
        "    gift.save(update_fields=['tier'])  # figures-ok: a TierGift's tier\n"
    )
    assert [lineno for lineno, _line in member_figure_writes(source)] == [2, 3, 5, 6, 7, 8]
