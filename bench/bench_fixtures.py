"""Data for the benchmarks, made through the services like production data. (The members issue adds the bulk
generator that loads a million members with COPY.)"""

from django.core.management import call_command

from shops.models import Shop
from shops.selectors import shop_by_slug
from shops.services import SYSTEM, apikey_create, shop_create, user_ensure
from shops.tenancy import shop_scope


def bench_shop_with_key() -> tuple[Shop, str]:
    call_command("migrate", verbosity=0)
    try:
        shop = shop_by_slug(slug="bench")
    except Shop.DoesNotExist:
        shop = shop_create(name="Bench", slug="bench", owner=user_ensure(email="bench@example.com"))
    with shop_scope(shop):
        _api_key, secret = apikey_create(shop=shop, actor=SYSTEM, name="bench")
    return shop, secret
