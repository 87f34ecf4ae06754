from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from shops.errors import ApplicationError
from shops.services import shop_create, user_ensure


class Command(BaseCommand):
    help = "Create a shop with its owner (the owner's account is created when it does not exist yet)."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True, help="Every shop needs an owner.")
        parser.add_argument("--owner-password", help="For a new owner account; omit to set it by password reset.")

    def handle(self, *args, slug, name, owner_email, owner_password, **options):
        try:
            owner = user_ensure(email=owner_email, password=owner_password)
            shop = shop_create(name=name, slug=slug, owner=owner)
        except ApplicationError as exc:
            raise CommandError(str(exc.message)) from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Created shop {shop.slug} (id {shop.pk}) owned by {owner.email}"))
