from django.core.management.base import BaseCommand

from shops.models import Shop, User
from shops.roles import Role
from shops.services import SYSTEM, shop_create, staff_add
from shops.tenancy import shop_scope

DEMO_SLUG = "demo"
DEMO_OWNER = ("owner@demo.huiyuan.local", "huiyuan-demo-2026")
DEMO_STAFF = [
    ("marketer@demo.huiyuan.local", "王芳", Role.MARKETER),
    ("clerk@demo.huiyuan.local", "李娜", Role.CLERK),
]


class Command(BaseCommand):
    help = "Create the demo shop with its owner and staff (safe to run again: existing data is kept)."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=2000, help="Demo members (used once members exist).")

    def handle(self, *args, **options):
        email, password = DEMO_OWNER
        owner = User.objects.filter(email=email).first()  # tenant-ok: users are not shop-owned
        if owner is None:
            owner = User.objects.create_user(email=email, password=password, name="张伟")  # tenant-ok: as above
        shop = Shop.objects.filter(slug=DEMO_SLUG).first()  # tenant-ok: resolving the demo shop
        if shop is None:
            shop = shop_create(name="悦享咖啡 Demo Coffee", slug=DEMO_SLUG, owner=owner, actor=SYSTEM)
            with shop_scope(shop):
                for staff_email, name, role in DEMO_STAFF:
                    user = User.objects.create_user(email=staff_email, password=password, name=name)  # tenant-ok
                    staff_add(shop=shop, actor=SYSTEM, user=user, role=role)
        self.stdout.write(self.style.SUCCESS(f"Demo shop ready: {shop.name} (/dashboard/{shop.slug}/)"))
        self.stdout.write(f"Log in as {email} / {password}")
