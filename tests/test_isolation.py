"""Another shop's objects answer 404 and stay unchanged, on every dashboard and API route (CONVENTIONS section 2).

Routes are found by walking the URL configuration, so a new route is covered (or fails for want of a case in
tests/isolation_cases.py) without anyone remembering to add a test."""

import re

import pytest
from django.urls import include, path, reverse
from django.views import View

from .factories import make_api_key
from .isolation_cases import CASES
from .routes import routes_without_case, tenant_routes

ROUTES = tenant_routes()


def test_every_route_with_an_object_id_has_an_isolation_case():
    assert routes_without_case(ROUTES, CASES) == []


def test_the_walker_reports_a_new_route_that_has_no_case():
    class ThingView(View):
        def get(self, request, shop_slug, pk): ...

    urlconf = [
        path(
            "dashboard/<slug:shop_slug>/",
            include(([path("things/<int:pk>/", ThingView.as_view(), name="thing")], "dashboard")),
        )
    ]
    routes = tenant_routes(urlconf)
    assert [(r.name, sorted(r.params), r.methods) for r in routes] == [
        ("dashboard:thing", ["pk", "shop_slug"], ("get",))
    ]
    assert routes_without_case(routes, CASES) == ["dashboard:thing"]


def test_the_walker_finds_the_dashboard_and_api_routes():
    names = {route.name for route in ROUTES}
    assert {"dashboard:home", "dashboard:api_key_revoke", "api:shop"} <= names


def _request(client, method: str, url: str, **extra):
    return getattr(client, method)(url, **extra)


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if r.object_params], ids=lambda r: r.name)
def test_another_shops_object_answers_404_and_stays_unchanged(route, shop, other_shop, owner, client):
    # given: an object of the other shop, and shop A's owner (dashboard) or key (API)
    case = CASES[route.name]
    foreign = case.make(other_shop)
    before = case.snapshot(foreign)
    client.force_login(owner)
    headers = {}
    if route.name.startswith("api:"):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {make_api_key(shop)[1]}"}
    kwargs = {**foreign, **({"shop_slug": shop.slug} if "shop_slug" in route.params else {})}
    url = reverse(route.name, kwargs=kwargs)
    for method in route.methods:
        # when
        response = _request(client, method, url, **headers)
        # then
        assert response.status_code == 404, f"{method.upper()} {url} answered {response.status_code}"
        assert case.snapshot(foreign) == before, f"{method.upper()} {url} changed another shop's object"


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if "shop_slug" in r.params], ids=lambda r: r.name)
def test_another_shops_dashboard_answers_404(route, shop, other_shop, owner, client):
    case = CASES.get(route.name)
    foreign = case.make(other_shop) if case else {}
    before = case.snapshot(foreign) if case else None
    client.force_login(owner)
    url = reverse(route.name, kwargs={**foreign, "shop_slug": other_shop.slug})
    for method in route.methods:
        response = _request(client, method, url)
        assert response.status_code == 404, f"{method.upper()} {url} answered {response.status_code}"
        if case:
            assert case.snapshot(foreign) == before


@pytest.mark.django_db
def test_a_missing_shop_and_a_foreign_shop_look_the_same(shop, other_shop, owner_client):
    foreign = owner_client.get(f"/dashboard/{other_shop.slug}/")
    missing = owner_client.get("/dashboard/no-such-shop/")
    assert foreign.status_code == missing.status_code == 404
    assert _without_request_details(foreign) == _without_request_details(missing)


def _without_request_details(response) -> str:
    """The page less what differs per request anyway: the CSRF token and the requested path."""
    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return html.replace(response.wsgi_request.path, "")
