"""An id beyond PostgreSQL's bigint in an address names no object: 404 on every dashboard and API route that takes
an id, never the 500 of a number the database refuses (issue 16, item 5). Routes are found by walking the URL
configuration, so a new route is covered without anyone remembering to add it here."""

import pytest
from django.urls import reverse

from .factories import make_api_key
from .routes import tenant_routes

HUGE = "99999999999999999999"
ROUTES = [route for route in tenant_routes() if route.object_params]


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_an_id_beyond_bigint_in_an_address_answers_404(route, shop, owner, client):
    client.force_login(owner)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {make_api_key(shop)[1]}"} if route.name.startswith("api:") else {}
    kwargs = {name: 7 for name in route.object_params} | (
        {"shop_slug": shop.slug} if "shop_slug" in route.params else {}
    )
    url = reverse(route.name, kwargs=kwargs).replace("/7/", f"/{HUGE}/")
    assert HUGE in url
    for method in route.methods:
        response = getattr(client, method)(url, **headers)
        assert response.status_code == 404, f"{method.upper()} {url} answered {response.status_code}"
