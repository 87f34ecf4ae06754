from django.core.management.base import BaseCommand, CommandError

from shops.models import Shop
from shops.selectors import shop_by_slug
from shops.services import Actor, apikey_create
from shops.tenancy import shop_scope


class Command(BaseCommand):
    help = "Create an API key for a shop. The key is printed alone on the last line, once."

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="The shop's slug.")
        parser.add_argument("--name", default="Command line")

    def handle(self, *args, shop, name, **options):
        try:
            shop_obj = shop_by_slug(slug=shop)
        except Shop.DoesNotExist:
            raise CommandError(f"No shop with slug {shop!r}.") from None
        with shop_scope(shop_obj):
            api_key, secret = apikey_create(shop=shop_obj, actor=Actor(label="manage.py create_api_key"), name=name)
        self.stdout.write(f"Created API key {api_key.name!r} ({api_key.prefix}…) for {shop_obj.slug}. Keep it secret:")
        self.stdout.write(secret)
