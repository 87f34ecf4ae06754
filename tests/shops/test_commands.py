import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import translation

from members.models import Member
from orders.models import COUNTED_STATUSES, Order
from shops.models import ApiKey, Shop, StaffMembership, User
from shops.roles import Role
from shops.services import apikey_authenticate
from shops.tenancy import all_shops, shop_scope

pytestmark = pytest.mark.django_db


def test_create_shop_creates_the_shop_and_its_owner(capsys):
    call_command(
        "create_shop", slug="tea-house", name="茶馆", owner_email="Boss@Example.com", owner_password="pw-12345678"
    )
    shop = Shop.objects.get(slug="tea-house")
    owner = User.objects.get(email="boss@example.com")
    assert owner.check_password("pw-12345678")
    with shop_scope(shop):
        assert StaffMembership.objects.get(shop=shop).user == owner
        assert StaffMembership.objects.get(shop=shop).role == Role.OWNER
    assert "Created shop tea-house" in capsys.readouterr().out


@translation.override("en")
def test_create_shop_refuses_a_taken_or_bad_slug_and_changes_nothing(shop):
    with pytest.raises(CommandError, match="already taken"):
        call_command("create_shop", slug=shop.slug, name="x", owner_email="new@example.com")
    with pytest.raises(CommandError, match="lowercase"):
        call_command("create_shop", slug="Bad Slug!", name="x", owner_email="new@example.com")
    assert Shop.objects.count() == 1


def test_create_api_key_prints_a_working_key_alone_on_the_last_line(shop, capsys):
    call_command("create_api_key", shop=shop.slug, name="POS")
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("hy_") and " " not in secret
    api_key = apikey_authenticate(secret=secret)
    assert (api_key.shop, api_key.name) == (shop, "POS")


def test_create_api_key_for_an_unknown_shop_is_a_clear_error():
    with pytest.raises(CommandError, match="No shop with slug 'nope'"):
        call_command("create_api_key", shop="nope")
    with all_shops():
        assert ApiKey.objects.count() == 0


def test_seed_demo_creates_a_shop_one_can_log_in_to_and_is_safe_to_rerun(client, capsys):
    call_command("seed_demo", members=40)
    call_command("seed_demo", members=40)
    out = capsys.readouterr().out
    shop = Shop.objects.get(slug="demo")
    with shop_scope(shop):
        assert StaffMembership.objects.filter(shop=shop).count() == 4
    # through the login page: axes' backend needs the request, which client.login() does not give authenticate()
    login = client.post("/accounts/login/", {"username": "owner@demo.huiyuan.local", "password": "huiyuan-demo-2026"})
    assert login.status_code == 302
    assert "owner@demo.huiyuan.local" in out and "huiyuan-demo-2026" in out
    assert client.get("/dashboard/demo/").status_code == 200
    # members and a year of orders, recorded through the services: aggregates agree with the orders
    with shop_scope(shop):
        assert Member.objects.filter(shop=shop).count() == 40 + 10  # and 10 shoppers joining through the channels
        assert Order.objects.filter(shop=shop).count() == 160
        member_orders = Order.objects.filter(shop=shop, member__isnull=False, status__in=COUNTED_STATUSES)
        assert Member.objects.filter(shop=shop).aggregate(n=Sum("order_count"))["n"] == member_orders.count()
    assert "members: kept" in out and "orders: kept" in out and "recruitment: kept" in out
