"""Walks the URL configuration: every named route of the dashboard and the API, with its path parameters and the
HTTP methods its view answers."""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
TENANT_NAMESPACES = ("dashboard", "api")


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, e.g. "dashboard:staff_role"
    params: frozenset[str]
    methods: tuple[str, ...]

    @property
    def object_params(self) -> frozenset[str]:
        return self.params - {"shop_slug"}


def _view_methods(callback) -> tuple[str, ...]:
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:  # a function view: assume it may read and write
        return ("get", "post")
    allowed = [m.lower() for m in view_class.http_method_names]
    return tuple(m for m in HTTP_METHODS if m in allowed and hasattr(view_class, m))


def walk(patterns=None, namespace: str | None = None, params: frozenset = frozenset()):
    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        entry_params = params | frozenset(getattr(entry.pattern, "converters", {}) or entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, entry.namespace or namespace, entry_params)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or str(entry.pattern)
            yield Route(name=name, params=entry_params, methods=_view_methods(entry.callback)), namespace


def tenant_routes(patterns=None) -> list[Route]:
    return [route for route, namespace in walk(patterns) if namespace in TENANT_NAMESPACES]


def routes_without_case(routes: list[Route], cases: dict) -> list[str]:
    return sorted(route.name for route in routes if route.object_params and route.name not in cases)
