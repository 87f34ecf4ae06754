from django.core.management.base import BaseCommand, CommandError

from shops.errors import ApplicationError
from shops.models import User
from shops.services import shop_create


class Command(BaseCommand):
    help = "Create a shop, and its owner account when --owner-email is given (reused if it exists)."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email")
        parser.add_argument("--owner-password", help="For a new owner account; omit to set it by password reset.")

    def handle(self, *args, slug, name, owner_email, owner_password, **options):
        if not owner_email:
            raise CommandError("--owner-email is required: every shop needs an owner.")
        owner = User.objects.filter(email__iexact=owner_email).first()  # tenant-ok: users are not shop-owned
        if owner is None:
            owner = User.objects.create_user(email=owner_email, password=owner_password)  # tenant-ok: as above
        try:
            shop = shop_create(name=name, slug=slug, owner=owner)
        except (ApplicationError, ValueError) as exc:
            raise CommandError(str(getattr(exc, "message", exc))) from exc
        self.stdout.write(self.style.SUCCESS(f"Created shop {shop.slug} (id {shop.pk}) owned by {owner.email}"))
