import random

from django.core.management.base import BaseCommand

from shops.extensions import DEMO_SEEDER, implementations
from shops.models import Shop
from shops.roles import Role
from shops.selectors import shop_by_slug
from shops.services import SYSTEM, shop_create, staff_add, user_ensure
from shops.tenancy import shop_scope

DEMO_SLUG = "demo"
DEMO_PASSWORD = "huiyuan-demo-2026"  # noqa: S105 - the demo login is published in the README
DEMO_OWNER = ("owner@demo.huiyuan.local", "张伟")
DEMO_STAFF = [
    ("marketer@demo.huiyuan.local", "王芳", Role.MARKETER),
    ("analyst@demo.huiyuan.local", "刘洋", Role.ANALYST),
    ("clerk@demo.huiyuan.local", "李娜", Role.CLERK),
]


class Command(BaseCommand):
    help = (
        "Create the demo shop with its owner, staff and, through the apps' demo seeders (shops.extensions), members, "
        "orders and the rest. Safe to run again: what exists is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=2000, help="How many demo members (default 2000).")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed, for repeatable data.")

    def handle(self, *args, members, seed, **options):
        email, name = DEMO_OWNER
        try:
            shop = shop_by_slug(slug=DEMO_SLUG)
        except Shop.DoesNotExist:
            owner = user_ensure(email=email, password=DEMO_PASSWORD, name=name)
            shop = shop_create(name="悦享咖啡 Demo Coffee", slug=DEMO_SLUG, owner=owner)
            with shop_scope(shop):
                for staff_email, staff_name, role in DEMO_STAFF:
                    user = user_ensure(email=staff_email, password=DEMO_PASSWORD, name=staff_name)
                    staff_add(shop=shop, actor=SYSTEM, user=user, role=role)
        rng = random.Random(seed)
        with shop_scope(shop):
            # Each app seeds its own data (extension point DEMO_SEEDER, by explicit order), so this app imports none.
            for seed in implementations(DEMO_SEEDER):
                self.stdout.write(seed(shop=shop, rng=rng, members=members))
        self.stdout.write(self.style.SUCCESS(f"Demo shop ready: {shop.name} (/dashboard/{shop.slug}/)"))
        self.stdout.write(f"Log in as {email} with password {DEMO_PASSWORD} (staff: marketer@, analyst@, clerk@…)")
