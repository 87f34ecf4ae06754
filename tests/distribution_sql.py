"""Whether one SQL statement is routable to the one node that holds a shop (shops.distribution), read with sqlglot.

The rule, per statement (PostgreSQL dialect, Django's `%s`/`%(name)s` placeholders):

- A *shop source* is a table in `shop_tables`, or a derived table (subquery in FROM, CTE, data-modifying CTE with
  RETURNING) that reads one. Its *shop key* is `alias.shop_id` for a table; for a derived table, every output
  column whose value is its own shop sources' key (`SELECT o.shop_id ...`, `SELECT *`), and the constants its
  shop sources are pinned to (`WHERE o.shop_id = %(shop)s`).
- The *equalities* of a query level are the top-level AND terms of its WHERE and of every JOIN's ON (also USING,
  `IS NOT DISTINCT FROM`, a one-value IN, and row comparisons, pairwise). Terms under OR/NOT count for nothing.
  Equalities are transitive: `a.shop_id = b.shop_id AND b.shop_id = c.shop_id` joins a to c.
- Every query level (SELECT, UPDATE ... FROM, DELETE ... USING, the SELECT of INSERT ... SELECT, a CTE body, a
  subquery) must have all its shop sources in one class of equal shop keys. Two sources pinned to the *same*
  constant are in one class: the same literal, or the same named parameter (`%(shop)s` twice).
- Two positional `%s` (or two differently named parameters) are different constants in the text. Given the
  parameters of a run, classes pinned to constants of *equal value* (`a.shop_id = %s AND b.shop_id = %s` with 5
  and 5) pass too, since Citus prunes by the values it is given and routes both to the shop's node; such a pass
  is listed in `Result.by_value`, not as a violation. Without parameters, or with unequal values, it is one.
- A correlated subquery (one that names a column of an enclosing level) is a join: its shop sources and the
  enclosing shop sources it names must be in one class, counting the enclosing level's equalities too. An
  uncorrelated subquery stands alone (Citus plans it on its own, routed by its own filters).
- A derived table that reads shop tables but neither exposes their key nor is pinned can be joined to no other
  shop source: that is reported (conservative).
- An UPDATE of a shop table whose SET assigns `shop_id`, and an INSERT ... ON CONFLICT DO UPDATE SET shop_id, are
  violations.

Statements of another kind (DDL, SAVEPOINT, SET, ...) are skipped by their first keyword, except CREATE ... AS
SELECT, whose query is checked. A statement that sqlglot cannot parse is reported as unparseable, not passed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

DIALECT = "postgres"
# First keywords of statements that cannot join tables or write shop_id (CREATE is checked for AS SELECT).
SKIPPED_KINDS = frozenset(
    {
        "ALTER",
        "ANALYZE",
        "BEGIN",
        "CLOSE",
        "COMMENT",
        "COMMIT",
        "CREATE",
        "DEALLOCATE",
        "DISCARD",
        "DROP",
        "END",
        "FETCH",
        "GRANT",
        "LISTEN",
        "LOCK",
        "NOTIFY",
        "RELEASE",
        "RESET",
        "REVOKE",
        "ROLLBACK",
        "SAVEPOINT",
        "SET",
        "SHOW",
        "START",
        "TRUNCATE",
        "UNLISTEN",
        "VACUUM",
    }
)
CHECKED_KINDS = frozenset({"SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "VALUES", "TABLE", "CREATE", "("})


@dataclass(frozen=True)
class Violation:
    kind: str  # "join" or "sets-shop-id"
    detail: str
    tables: tuple[str, ...] = ()


@dataclass
class Result:
    status: str  # "checked", "skipped" or "unparseable"
    violations: list[Violation] = field(default_factory=list)
    error: str = ""
    # joins that pass only because their shop sources are pinned to parameters of equal value in the run given
    by_value: list[str] = field(default_factory=list)


def check_sql(sql: str, shop_tables: Collection[str], params=None, *, has_params: bool | None = None) -> Result:
    """The violations of one statement as Django sent it to the cursor, with the `params` of one run of it (a
    sequence for `%s`, a mapping for `%(name)s`; None when unknown). `has_params` (default: whether `params` is
    given) says whether placeholders and `%%` are to be read as such: without parameters the text is sent as is."""
    values: dict = {}
    if has_params is None:
        has_params = params is not None
    if has_params:
        sql, values = _placeholders(sql, params)
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)
    except SqlglotError as error:
        return Result("unparseable", error=str(error).splitlines()[0])
    kind = _kind(tokens)
    if kind in SKIPPED_KINDS and not (kind == "CREATE" and any(t.token_type == TokenType.SELECT for t in tokens)):
        return Result("skipped")
    if kind not in CHECKED_KINDS:
        return Result("unparseable", error=f"a statement of unknown kind {kind!r}")
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except SqlglotError as error:
        return Result("unparseable", error=str(error).splitlines()[0])
    checker = _Checker(frozenset(t.lower() for t in shop_tables), values)
    for statement in statements:
        if isinstance(statement, exp.Command):
            return Result("unparseable", error=f"sqlglot read it as an opaque {statement.name} command")
        if isinstance(statement, exp.Create):
            if not isinstance(statement.expression, exp.Query):
                continue
            statement = statement.expression
        checker.statement(statement)
    return Result("checked", violations=checker.violations, by_value=checker.by_value)


def _placeholders(sql: str, params) -> tuple[str, dict]:
    """The text with each placeholder named (`%s`, `%b`, `%t` -> `%(__p0)s`, ...; `%(name)b` -> `%(name)s`) and
    `%%` read as `%`, and the value of each placeholder that is a shop-id-like constant (an int or a str)."""
    out, values, position, i = [], {}, 0, 0
    while i < len(sql):
        char, following = sql[i], sql[i + 1 : i + 2]
        if char != "%":
            out.append(char)
            i += 1
        elif following == "%":
            out.append("%")
            i += 2
        elif following in ("s", "b", "t"):
            name = f"__p{position}"
            if isinstance(params, list | tuple) and position < len(params):
                values[name] = params[position]
            position += 1
            out.append(f"%({name})s")
            i += 2
        elif following == "(" and sql.find(")", i) > 0:
            end = sql.find(")", i)
            name = sql[i + 2 : end]
            if isinstance(params, Mapping) and name in params:
                values[name] = params[name]
            out.append(f"%({name})s")
            i = end + 2
        else:
            out.append(char)
            i += 1
    return "".join(out), {k: v for k, v in values.items() if _comparable(v)}


def _comparable(value) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


def _kind(tokens) -> str:
    for token in tokens:
        if token.token_type == TokenType.L_PAREN:
            return "("
        return token.text.upper()
    return ""


# --- equivalence classes of terms (columns of a query level, constants) ---------------------------------------


class _Classes:
    def __init__(self, parent: dict | None = None):
        self.parent: dict = dict(parent or {})

    def copy(self) -> _Classes:
        return _Classes(self.parent)

    def find(self, term):
        self.parent.setdefault(term, term)
        root = term
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[term] != root:
            self.parent[term], term = root, self.parent[term]
        return root

    def union(self, a, b) -> None:
        if a is not None and b is not None:
            self.parent[self.find(a)] = self.find(b)

    def members(self, term) -> list:
        root = self.find(term)
        return [t for t in list(self.parent) if self.find(t) == root]


def _is_constant(term) -> bool:
    return term[0] in ("lit", "param", "anon")


# --- sources and query levels ------------------------------------------------------------------------------------


@dataclass
class _Derived:
    """What a derived table (subquery, CTE, RETURNING) offers its reader."""

    label: str
    shop: bool = False  # reads a shop table
    key_columns: set[str] = field(default_factory=set)  # output columns equal to the shop key
    pinned: set = field(default_factory=set)  # constant terms the shop key equals
    columns: list[str | None] = field(default_factory=list)  # output names in order (None: unnamed or *)


@dataclass
class _Source:
    alias: str
    label: str  # "members_member AS m", "subquery d (orders_order)"
    table: str | None = None  # the real table, for a table source
    shop: bool = False
    key_columns: set[str] = field(default_factory=set)
    pinned: set = field(default_factory=set)
    columns: set[str] = field(default_factory=set)  # known columns (for USING)


class _Level:
    """One query level: its sources, and the classes of its equalities (with the enclosing levels' for a
    correlated subquery)."""

    def __init__(self, checker: _Checker, parent: _Level | None, ctes: dict, where: str):
        self.checker = checker
        self.parent = parent
        self.ctes = dict(ctes)
        self.where = where
        self.sources: dict[str, _Source] = {}
        self.classes = parent.classes.copy() if parent else _Classes()
        self.outer_refs: set[tuple[int, str]] = set()  # (id of an enclosing level, alias) it names

    # sources

    def add_table(self, table: exp.Table) -> None:
        name = table.name.lower()
        alias = (table.alias or table.name).lower()
        cte = self.ctes.get(name) if not table.args.get("db") else None
        if cte is not None:
            self._add_derived(alias, cte, renamed=_alias_columns(table))
            return
        source = _Source(alias, f"{name} AS {alias}" if alias != name else name, table=name)
        if name in self.checker.shop_tables:
            source.shop, source.key_columns, source.columns = True, {"shop_id"}, {"shop_id"}
        self.sources[alias] = source
        if source.shop:
            self.classes.union(self.key(alias), self.column(alias, "shop_id"))

    def _add_derived(self, alias: str, derived: _Derived, renamed: list[str] | None = None) -> None:
        names = list(derived.columns)
        keys = set(derived.key_columns)
        if renamed:
            keys = {renamed[i] for i, n in enumerate(names[: len(renamed)]) if n in derived.key_columns}
            keys |= {k for k in derived.key_columns if k not in names[: len(renamed)]}
            names = renamed + names[len(renamed) :]
        label = f"{derived.label} AS {alias}"
        source = _Source(alias, label, shop=derived.shop, key_columns=keys, pinned=set(derived.pinned))
        source.columns = {n for n in names if n}
        self.sources[alias] = source
        if source.shop:
            for column in keys:
                self.classes.union(self.key(alias), self.column(alias, column))
            for constant in source.pinned:
                self.classes.union(self.key(alias), constant)

    def add_source(self, node: exp.Expression) -> None:
        if isinstance(node, exp.Table):
            if isinstance(node.this, exp.Identifier):
                self.add_table(node)
            else:  # a function in FROM: generate_series(...), unnest(...)
                alias = (node.alias or "").lower()
                self.sources[alias] = _Source(alias, f"function {alias}")
            return
        alias = (node.alias or "").lower()
        if isinstance(node, exp.Lateral):  # may name columns of the sources before it
            body = node.this.this if isinstance(node.this, exp.Subquery) else node.this
            if isinstance(body, exp.Query):
                derived = self.checker.derived(body, parent=self, ctes=self.ctes, where=f"lateral {alias}")
                self._add_derived(alias, derived, renamed=_alias_columns(node))
            else:
                self.sources[alias] = _Source(alias, f"lateral {alias}")
            return
        if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Query):
            derived = self.checker.derived(node.this, parent=None, ctes=self.ctes, where=f"subquery {alias}")
            self._add_derived(alias, derived, renamed=_alias_columns(node))
            return
        # VALUES, UNNEST and other row sources read no table
        self.sources[alias] = _Source(alias, f"{node.key} {alias}", columns=set(_alias_columns(node) or ()))

    # terms

    def key(self, alias: str, level: _Level | None = None):
        return ("src", id(level or self), alias)

    def column(self, alias: str, name: str, level: _Level | None = None):
        return ("col", id(level or self), alias, name)

    def resolve(self, column: exp.Column):
        """The term of a column: the source it belongs to, here or in an enclosing level (then noted)."""
        name = column.name.lower()
        qualifier = column.table.lower() if column.table else None
        level: _Level | None = self
        while level is not None:
            alias = level._owner(qualifier, name)
            if alias is not None:
                if level is not self:
                    self._note_outer(level, alias)
                return self.column(alias, name, level)
            level = level.parent
        return None

    def _note_outer(self, level: _Level, alias: str) -> None:
        here: _Level | None = self
        while here is not None and here is not level:
            here.outer_refs.add((id(level), alias))
            here = here.parent

    def _owner(self, qualifier: str | None, name: str) -> str | None:
        if qualifier is not None:
            return qualifier if qualifier in self.sources else None
        if len(self.sources) == 1:
            return next(iter(self.sources))
        having = [a for a, s in self.sources.items() if name in s.columns]
        return having[0] if len(having) == 1 else None

    def term(self, node: exp.Expression):
        while isinstance(node, exp.Paren | exp.Cast | exp.TryCast):
            node = node.this
        if isinstance(node, exp.Column):
            return self.resolve(node)
        if isinstance(node, exp.Literal):
            value = node.this if node.is_string else int(node.this) if node.this.isdigit() else None
            return ("lit", node.sql(dialect=DIALECT), value)
        if isinstance(node, exp.Placeholder):
            named = node.args.get("this")
            return (
                ("param", named.name if isinstance(named, exp.Expression) else str(named))
                if named
                else ("anon", id(node))
            )
        if isinstance(node, exp.Parameter):
            return ("param", "$" + node.name)
        return None

    # equalities

    def add_conditions(self, condition: exp.Expression | None) -> None:
        for term in _conjuncts(condition):
            if isinstance(term, exp.EQ | exp.NullSafeEQ):
                left, right = term.this, term.expression
                if isinstance(left, exp.Tuple) and isinstance(right, exp.Tuple):
                    for a, b in zip(left.expressions, right.expressions, strict=False):
                        self.classes.union(self.term(a), self.term(b))
                else:
                    self.classes.union(self.term(left), self.term(right))
            elif isinstance(term, exp.In) and not term.args.get("query") and len(term.expressions) == 1:
                self.classes.union(self.term(term.this), self.term(term.expressions[0]))

    def add_using(self, join: exp.Join, right_alias: str, before: list[str]) -> None:
        for identifier in join.args.get("using") or ():
            name = identifier.name.lower()
            for alias in before:
                if name in self.sources[alias].columns:
                    self.classes.union(self.column(alias, name), self.column(right_alias, name))

    # the rule

    def check(self) -> None:
        shop_sources = [(self, s) for s in self.sources.values() if s.shop]
        for level_id, alias in sorted(self.outer_refs):
            level = self._enclosing(level_id)
            source = level.sources.get(alias) if level else None
            if source is not None and source.shop and shop_sources:
                shop_sources.append((level, source))
        groups: dict = {}
        for level, source in shop_sources:
            groups.setdefault(self.classes.find(self.key(source.alias, level)), []).append((level, source))
        if len(groups) <= 1:
            return
        described = " | ".join(
            ", ".join(source.label + ("" if level is self else " (enclosing)") for level, source in group)
            for group in groups.values()
        )
        if self._same_values(list(groups)):
            self.checker.by_value.append(f"{self.where}: {described}")
            return
        tables = sorted({s.table or s.label for group in groups.values() for _, s in group})
        self.checker.violations.append(
            Violation("join", f"{self.where}: no shop_id equality between {described}", tuple(tables))
        )

    def _same_values(self, roots: list) -> bool:
        """Whether the classes are all pinned, through chains of shared values, to constants of one value."""
        pinned = [
            {v for t in self.classes.members(root) if _is_constant(t) and (v := self.checker.value(t)) is not None}
            for root in roots
        ]
        if not all(pinned):
            return False
        reached, values = {0}, set(pinned[0])
        grown = True
        while grown:
            grown = False
            for i, group_values in enumerate(pinned):
                if i not in reached and group_values & values:
                    reached.add(i)
                    values |= group_values
                    grown = True
        return len(reached) == len(pinned)

    def _enclosing(self, level_id: int) -> _Level | None:
        level = self.parent
        while level is not None and id(level) != level_id:
            level = level.parent
        return level

    def describe(self, outputs: list[tuple[str | None, exp.Expression]]) -> _Derived:
        """What this level offers as a derived table whose select list is `outputs` (name, expression)."""
        shop_sources = [s for s in self.sources.values() if s.shop]
        tables = sorted({s.table or s.label for s in shop_sources})
        derived = _Derived(label=f"({', '.join(tables) or 'no shop table'})", shop=bool(shop_sources))
        roots = list({self.classes.find(self.key(s.alias)) for s in shop_sources})
        # One class, or classes pinned to one value (then already noted as routable by value only).
        keys = set(roots) if len(roots) == 1 or (roots and self._same_values(roots)) else set()
        for name, node in outputs:
            if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
                covered = [node.table.lower()] if isinstance(node, exp.Column) and node.table else list(self.sources)
                for alias in covered:
                    source = self.sources.get(alias)
                    if source is None:
                        continue
                    derived.columns.extend(sorted(source.columns))
                    if keys and source.shop:
                        derived.key_columns |= source.key_columns
                continue
            derived.columns.append(name)
            term = self.term(node)
            if name and term is not None and self.classes.find(term) in keys:
                derived.key_columns.add(name)
        derived.pinned = {t for root in keys for t in self.classes.members(root) if _is_constant(t)}
        return derived


def _alias_columns(node: exp.Expression) -> list[str] | None:
    alias = node.args.get("alias")
    columns = alias.args.get("columns") if isinstance(alias, exp.TableAlias) else None
    return [c.name.lower() for c in columns] if columns else None


def _conjuncts(condition: exp.Expression | None) -> Iterator[exp.Expression]:
    if condition is None:
        return
    if isinstance(condition, exp.Where | exp.Paren):
        yield from _conjuncts(condition.this)
    elif isinstance(condition, exp.And):
        yield from _conjuncts(condition.this)
        yield from _conjuncts(condition.expression)
    else:
        yield condition


def _output_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Alias):
        return node.alias.lower()
    if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
        return node.name.lower()
    return None


def _unalias(node: exp.Expression) -> exp.Expression:
    return node.this if isinstance(node, exp.Alias) else node


def _arg(node: exp.Expression, name: str):
    """An argument under its sqlglot 30 name (`from_`, `with_`) or its older one (`from`, `with`)."""
    value = node.args.get(name + "_")
    return value if value is not None else node.args.get(name)


# --- the walk ------------------------------------------------------------------------------------------------------


class _Checker:
    def __init__(self, shop_tables: frozenset[str], values: dict):
        self.shop_tables = shop_tables
        self.values = values  # placeholder name -> its value in the run given
        self.violations: list[Violation] = []
        self.by_value: list[str] = []

    def value(self, term):
        """The value a constant term stands for, when known: a literal's, or a placeholder's in the run given."""
        if term[0] == "param":
            value = self.values.get(term[1])
        elif term[0] == "lit":
            value = term[2]
        else:
            return None
        return int(value) if isinstance(value, int) else value

    def statement(self, node: exp.Expression) -> None:
        if isinstance(node, exp.Query | exp.Insert | exp.Update | exp.Delete):
            self.derived(node, parent=None, ctes={}, where="statement")

    def with_ctes(self, node: exp.Expression, ctes: dict, parent: _Level | None) -> dict:
        with_ = _arg(node, "with")
        if with_ is None:
            return ctes
        ctes = dict(ctes)
        for cte in with_.expressions:
            name = cte.alias.lower()
            body = cte.this
            if isinstance(body, exp.SetOperation) and with_.args.get("recursive"):
                # The recursive branch reads the CTE itself: it sees what the first branch offers.
                ctes[name] = self.derived(_first_branch(body), parent=parent, ctes=ctes, where=f"CTE {name}")
            ctes[name] = self.derived(body, parent=parent, ctes=ctes, where=f"CTE {name}")
            renamed = _alias_columns(cte)
            if renamed:
                derived = ctes[name]
                derived.key_columns = {
                    renamed[i] for i, n in enumerate(derived.columns[: len(renamed)]) if n in derived.key_columns
                }
                derived.columns = renamed + derived.columns[len(renamed) :]
        return ctes

    def derived(self, node: exp.Expression, *, parent: _Level | None, ctes: dict, where: str) -> _Derived:
        """Checks a query (or a DML statement) and says what it offers as a derived table."""
        if isinstance(node, exp.Subquery):
            node = node.this
        ctes = self.with_ctes(node, ctes, parent)
        if isinstance(node, exp.Select):
            return self.select(node, parent, ctes, where)
        if isinstance(node, exp.SetOperation):
            return self.set_operation(node, parent, ctes, where)
        if isinstance(node, exp.Update):
            return self.update(node, parent, ctes, where)
        if isinstance(node, exp.Delete):
            return self.delete(node, parent, ctes, where)
        if isinstance(node, exp.Insert):
            return self.insert(node, parent, ctes, where)
        return _Derived(label=f"({node.key})")  # VALUES

    def select(self, node: exp.Select, parent, ctes, where) -> _Derived:
        level = _Level(self, parent, ctes, where)
        from_ = _arg(node, "from")
        if from_ is not None:
            level.add_source(from_.this)
            for extra in from_.expressions:
                level.add_source(extra)
        joins = node.args.get("joins") or []
        for join in joins:
            before = list(level.sources)
            level.add_source(join.this)
            right = (join.this.alias or (join.this.name if isinstance(join.this, exp.Table) else "")).lower()
            level.add_using(join, right, before)
        for join in joins:
            level.add_conditions(join.args.get("on"))
        level.add_conditions(node.args.get("where"))
        skip = {"with", "with_", "from", "from_", "joins"}
        self.subqueries(level, [v for k, v in node.args.items() if k not in skip])
        self.subqueries(level, [join.args.get("on") for join in joins])
        level.check()
        return level.describe([(_output_name(e), _unalias(e)) for e in node.expressions])

    def set_operation(self, node: exp.SetOperation, parent, ctes, where) -> _Derived:
        branches = [self.derived(b, parent=parent, ctes=ctes, where=where) for b in _branches(node)]
        first = branches[0]
        shop_branches = [b for b in branches if b.shop]
        derived = _Derived(label=" UNION ".join(b.label for b in branches), shop=bool(shop_branches))
        derived.columns = list(first.columns)
        if shop_branches:
            positions = None
            for branch in shop_branches:
                keys = {i for i, name in enumerate(branch.columns) if name in branch.key_columns}
                positions = keys if positions is None else positions & keys
            derived.key_columns = {first.columns[i] for i in positions or () if i < len(first.columns)} - {None}
            pins = [b.pinned for b in shop_branches]
            derived.pinned = set.intersection(*pins) if pins else set()
        return derived

    def update(self, node: exp.Update, parent, ctes, where) -> _Derived:
        level = _Level(self, parent, ctes, where)
        level.add_source(node.this)
        target = level.sources[next(iter(level.sources))]
        from_ = _arg(node, "from")
        if from_ is not None:
            level.add_source(from_.this)
            for extra in from_.expressions:
                level.add_source(extra)
        for join in node.args.get("joins") or []:
            level.add_source(join.this)
            level.add_conditions(join.args.get("on"))
        level.add_conditions(node.args.get("where"))
        if target.shop and target.table:
            for assignment in node.expressions:
                if _sets_shop_id(assignment):
                    self.violations.append(
                        Violation("sets-shop-id", f"{where}: UPDATE {target.label} SETs shop_id", (target.table,))
                    )
        skip = {"this", "from", "from_", "with", "with_", "joins"}
        self.subqueries(level, [v for k, v in node.args.items() if k not in skip])
        level.check()
        return self.returning(level, node)

    def delete(self, node: exp.Delete, parent, ctes, where) -> _Derived:
        level = _Level(self, parent, ctes, where)
        level.add_source(node.this)
        for extra in node.args.get("using") or ():
            level.add_source(extra)
        level.add_conditions(node.args.get("where"))
        skip = {"this", "using", "with", "with_"}
        self.subqueries(level, [v for k, v in node.args.items() if k not in skip])
        level.check()
        return self.returning(level, node)

    def insert(self, node: exp.Insert, parent, ctes, where) -> _Derived:
        target = node.this.this if isinstance(node.this, exp.Schema) else node.this
        if node.expression is not None:
            self.derived(node.expression, parent=parent, ctes=ctes, where=f"{where}: INSERT ... SELECT")
        level = _Level(self, parent, ctes, where)
        level.add_source(target)
        source = level.sources[next(iter(level.sources))]
        conflict = node.args.get("conflict")
        if conflict is not None and source.shop:
            for assignment in conflict.expressions or ():
                if _sets_shop_id(assignment):
                    self.violations.append(
                        Violation(
                            "sets-shop-id",
                            f"{where}: INSERT INTO {source.label} ON CONFLICT DO UPDATE SETs shop_id",
                            (source.table,),
                        )
                    )
        return self.returning(level, node)

    def returning(self, level: _Level, node: exp.Expression) -> _Derived:
        returning = node.args.get("returning")
        outputs = [(_output_name(e), _unalias(e)) for e in returning.expressions] if returning else []
        return level.describe(outputs)

    def subqueries(self, level: _Level, nodes: list) -> None:
        """Checks the subqueries inside expressions (WHERE, ON, SELECT list, SET, ...), each as a child level."""
        for node in _queries_in(nodes):
            self.derived(node, parent=level, ctes=level.ctes, where=f"{level.where} > subquery")


def _queries_in(nodes: list) -> Iterator[exp.Expression]:
    for node in nodes:
        if isinstance(node, list):
            yield from _queries_in(node)
        elif isinstance(node, exp.Query):
            yield node
        elif isinstance(node, exp.Expression):
            yield from _queries_in(list(node.iter_expressions()))


def _branches(node: exp.Expression) -> Iterator[exp.Expression]:
    if isinstance(node, exp.SetOperation):
        yield from _branches(node.this)
        yield from _branches(node.expression)
    else:
        yield node


def _first_branch(node: exp.Expression) -> exp.Expression:
    return next(_branches(node))


def _sets_shop_id(assignment: exp.Expression) -> bool:
    return (
        isinstance(assignment, exp.EQ)
        and isinstance(assignment.this, exp.Column)
        and assignment.this.name.lower() == "shop_id"
    )
