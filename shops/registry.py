"""How extension points work: declaring a point, registering implementations, looking them up, and checking them
at start-up. What each point means is in the catalogue, shops.extensions; read that one first.

- A point has a contract: a `typing.Protocol` (an implementation matches it method by method, parameter names and
  kinds checked, see `contract_problems`) or, for plain data (a navigation entry, an audit label), a type.
- An app registers its implementations in its `AppConfig.ready()`. A point runs them in the dependency order of
  the apps (INSTALLED_APPS: shops, members, orders, tiers, points, coupons, ...), then in the order one app
  registered them; a point declared `ordered` runs them by the explicit `order=` of each registration instead. A
  `keyed` point is looked up by the `key=` of each registration.
- `extension_errors` (the system check of shops.checks) refuses a required point without an implementation, a
  second implementation of a single one, one that does not match the contract, and a missing or repeated order or
  key.
"""

import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Generic, Protocol, TypeVar

from django.apps import apps
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class ExtensionPoint(Generic[T]):
    """A place where a lower app lets higher ones act. Compared by identity: each is declared once."""

    name: str
    contract: Any  # a typing.Protocol class, or a type (or tuple of types) that data implementations are
    required: bool = False  # start-up fails without an implementation
    single: bool = False  # at most one implementation
    ordered: bool = False  # implementations run by their explicit order=, not by app
    keyed: bool = False  # implementations are looked up by their key=

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, eq=False)
class Registration:
    implementation: Any
    app: str  # the label of the app that registered it
    order: int | None = None
    key: str | None = None


def _app_rank() -> dict[str, int]:
    return {config.label: rank for rank, config in enumerate(apps.get_app_configs())}


class Registry:
    def __init__(self) -> None:
        self._registrations: dict[ExtensionPoint, list[Registration]] = {}
        self._overrides: dict[ExtensionPoint, list[Registration]] = {}
        self._sorted: dict[ExtensionPoint, tuple[Registration, ...]] = {}
        self._implementations: dict[ExtensionPoint, tuple] = {}
        self._keyed: dict[ExtensionPoint, dict] = {}

    def register(
        self, point: ExtensionPoint[T], implementation: T, *, app: str, order: int | None = None, key: str | None = None
    ) -> None:
        """Called from the AppConfig.ready() of the app that provides `implementation` (`app=self.label`).
        Registering the same object again keeps one (ready() runs again when a test re-populates the apps); compared
        by identity, as a lazy label must not be translated before the apps are ready."""
        registrations = self._registrations.setdefault(point, [])
        same = (app, order, key)
        if not any(r.implementation is implementation and (r.app, r.order, r.key) == same for r in registrations):
            registrations.append(Registration(implementation, app, order, key))
        self._forget(point)

    def _forget(self, point: ExtensionPoint) -> None:
        for cache in (self._sorted, self._implementations, self._keyed):
            cache.pop(point, None)

    def registrations(self, point: ExtensionPoint) -> tuple[Registration, ...]:
        """The point's registrations in the order they run (see the module docstring)."""
        if point not in self._sorted:
            found = self._overrides.get(point, self._registrations.get(point, []))
            if point.ordered:
                self._sorted[point] = tuple(sorted(found, key=lambda r: (r.order is None, r.order or 0)))
            else:
                rank = _app_rank()
                self._sorted[point] = tuple(sorted(found, key=lambda r: rank.get(r.app, len(rank))))
        return self._sorted[point]

    def implementations(self, point: ExtensionPoint[T]) -> tuple[T, ...]:
        """Every implementation of `point`, in the order they run. Read on each call of a service (cached)."""
        if point not in self._implementations:
            self._implementations[point] = tuple(r.implementation for r in self.registrations(point))
        return self._implementations[point]

    def implementation(self, point: ExtensionPoint[T]) -> T:
        """The one implementation of a single point. The start-up check makes sure there is one."""
        found = self.implementations(point)
        if len(found) != 1:
            raise ImproperlyConfigured(f"The extension point {point} has {len(found)} implementations, not one.")
        return found[0]

    def by_key(self, point: ExtensionPoint[T]) -> dict[str, T]:
        """The implementations of a keyed point by key (cached: the audit page asks once per row)."""
        if point not in self._keyed:
            self._keyed[point] = {r.key: r.implementation for r in self.registrations(point) if r.key is not None}
        return self._keyed[point]

    @contextmanager
    def overridden(self, point: ExtensionPoint, registrations: Sequence[Registration]) -> Iterator[None]:
        """For tests: `point` has exactly `registrations` within the block."""
        self._overrides[point] = list(registrations)
        self._forget(point)
        try:
            yield
        finally:
            del self._overrides[point]
            self._forget(point)


registry = Registry()


# --- The start-up check ------------------------------------------------------------------------------------------


def _is_protocol(contract: Any) -> bool:
    return isinstance(contract, type) and Protocol in contract.__mro__


def _name(implementation: Any) -> str:
    if isinstance(implementation, ModuleType):
        return implementation.__name__
    if hasattr(implementation, "__qualname__"):
        return f"{implementation.__module__}.{implementation.__qualname__}"
    return repr(implementation)[:80]


def _plain(signature: inspect.Signature, *, drop_self: bool = False) -> inspect.Signature:
    """The signature without annotations (they are not compared) and, for a protocol's method, without self."""
    parameters = list(signature.parameters.values())[1 if drop_self else 0 :]
    return inspect.Signature([p.replace(annotation=p.empty) for p in parameters])


def signature_problems(expected: inspect.Signature, actual: inspect.Signature) -> list[str]:
    """How `actual` fails to accept every call that `expected` allows: each expected parameter must be there with
    the same name and kind (keyword-only stays keyword-only), optional where it is optional; what `actual` adds
    must be optional."""
    problems, have = [], dict(actual.parameters)
    for parameter in expected.parameters.values():
        found = have.pop(parameter.name, None)
        if found is None:
            problems.append(f"no parameter {parameter.name!r}")
        elif found.kind != parameter.kind:
            problems.append(f"{parameter.name!r} is {found.kind.description}, not {parameter.kind.description}")
        elif parameter.default is not parameter.empty and found.default is found.empty:
            problems.append(f"{parameter.name!r} must be optional")
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    problems += [
        f"unexpected required parameter {p.name!r}"
        for p in have.values()
        if p.kind not in variadic and p.default is p.empty
    ]
    return problems


def contract_problems(contract: Any, implementation: Any) -> list[str]:
    """What keeps `implementation` from meeting `contract`: a Protocol's methods (`__call__` for a callable) and
    attributes, compared by signature; or, for data, an instance of the type."""
    if not _is_protocol(contract):
        return [] if isinstance(implementation, contract) else [f"is not a {contract}"]
    problems = []
    for name, member in vars(contract).items():
        if not inspect.isfunction(member) or (name.startswith("_") and name != "__call__"):
            continue  # data (checked below), properties, and what typing.Protocol adds
        target = implementation if name == "__call__" else getattr(implementation, name, None)
        if not callable(target):
            problems.append("is not callable" if name == "__call__" else f"has no function {name}()")
            continue
        try:
            actual = _plain(inspect.signature(target))
        except (TypeError, ValueError):
            problems.append(f"{name}: its signature cannot be read")
            continue
        expected = _plain(inspect.signature(member), drop_self=True)
        where = "" if name == "__call__" else f"{name}(): "
        if mismatches := signature_problems(expected, actual):
            problems.append(f"{where}{', '.join(mismatches)}; expected {expected}")
    attributes = [name for name in vars(contract).get("__annotations__", {}) if not name.startswith("_")]
    problems += [f"has no attribute {name!r}" for name in attributes if not hasattr(implementation, name)]
    return problems


def extension_errors(points: Sequence[ExtensionPoint], registry: Registry = registry) -> list[checks.CheckMessage]:
    """The check's findings for `points` (shops.extensions.POINTS), ids shops.E100 to shops.E105."""
    installed, errors = {config.label for config in apps.get_app_configs()}, []
    for point in points:
        found = registry.registrations(point)
        contract = getattr(point.contract, "__name__", str(point.contract))
        if point.required and not found:
            errors.append(
                checks.Error(
                    f"No installed app implements the extension point {point} ({contract}), which is required.",
                    hint="Register one in the AppConfig.ready() of the app that provides it (shops.extensions).",
                    id="shops.E100",
                )
            )
        if point.single and len(found) > 1:
            apps_found = ", ".join(r.app for r in found)
            errors.append(
                checks.Error(
                    f"The extension point {point} takes one implementation; {apps_found} each register one.",
                    id="shops.E101",
                )
            )
        for r in found:
            label = f"{r.key!r}: {_name(r.implementation)}" if r.key is not None else _name(r.implementation)
            what = f"{label} (app {r.app}, extension point {point})"
            if r.app not in installed:
                errors.append(checks.Error(f"{what} is registered by an app that is not installed.", id="shops.E103"))
            for problem in contract_problems(point.contract, r.implementation):
                errors.append(checks.Error(f"{what} does not match {contract}: {problem}.", id="shops.E102"))
            if point.ordered != (r.order is not None):
                needs = "needs an explicit order=" if point.ordered else "runs in app order: order= is not used"
                errors.append(checks.Error(f"{what}: this point {needs}.", id="shops.E104"))
            if point.keyed != (r.key is not None):
                needs = "needs a key=" if point.keyed else "is not keyed: key= is not used"
                errors.append(checks.Error(f"{what}: this point {needs}.", id="shops.E104"))
        for attribute in ("order", "key"):
            values = [getattr(r, attribute) for r in found if getattr(r, attribute) is not None]
            if repeated := sorted({str(v) for v in values if values.count(v) > 1}):
                errors.append(
                    checks.Error(
                        f"The extension point {point} has the same {attribute} more than once: {', '.join(repeated)}.",
                        id="shops.E105",
                    )
                )
    return errors
