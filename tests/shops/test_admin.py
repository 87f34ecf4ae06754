"""The operations admin: looks across shops (no shop scope), searchable, ledger-like models read-only."""

from decimal import Decimal

import pytest
from django.utils import timezone

from members.services import Enrolment, member_enroll
from orders.services import OrderInput, RefundInput, order_record, refund_record
from shops.models import AuditLogEntry, Shop
from tests.factories import UserFactory, make_api_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops_client(client):
    client.force_login(UserFactory(email="ops@huiyuan.example", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "path",
    [
        "shops/shop",
        "shops/user",
        "shops/staffmembership",
        "shops/invitation",
        "shops/apikey",
        "shops/auditlogentry",
        "members/member",
        "members/consentchange",
        "members/tag",
        "members/segment",
        "members/importjob",
        "orders/order",
        "orders/refund",
        "points/pointsentry",
        "points/pointslot",
        "points/pendingaward",
        "points/pointsprogram",
        "points/bonusrule",
        "tiers/tier",
        "tiers/tierchange",
        "tiers/tierevaluation",
        "tiers/tierschedule",
        "tiers/growthentry",
        "events/event",
        "events/stream",
        "events/cursor",
        "members/device",
        "campaigns/campaign",
        "campaigns/message",
        "campaigns/messagingsettings",
        "campaigns/contactcount",
        "analytics/rollupstate",
        "analytics/dirtyday",
        "analytics/salesday",
    ],
)
def test_every_changelist_shows_all_shops_and_searches(ops_client, shop, other_shop, path):
    for s in (shop, other_shop):
        make_api_key(s, "POS")
        member, _ = member_enroll(shop=s, data=Enrolment(phone="13800138000", name="张三", consents={"sms": True}))
        paid_at = timezone.now()
        order = order_record(
            shop=s, data=OrderInput(external_id="T1", member_id=member.pk, amount=Decimal(9), paid_at=paid_at)
        )
        refund_record(shop=s, order=order.order, data=RefundInput(external_id="R1", amount=Decimal(1)))
    for query in ({}, {"q": "shop"}, {"q": "13800138000"}):
        assert ops_client.get(f"/admin/{path}/", query).status_code == 200


def test_the_audit_log_shows_every_shop_and_cannot_be_changed(ops_client, shop, other_shop):
    page = ops_client.get("/admin/shops/auditlogentry/").content.decode()
    assert "甲店" in page and "乙店" in page
    entry = AuditLogEntry.objects.filter(shop=shop).first()
    assert ops_client.post(f"/admin/shops/auditlogentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditLogEntry.objects.filter(pk=entry.pk).exists()


def test_freezing_a_shop_is_audited_and_stops_its_api(ops_client, shop, other_shop, api_client):
    response = ops_client.post("/admin/shops/shop/", {"action": "freeze", "_selected_action": [shop.pk]})
    assert response.status_code == 302
    assert list(Shop.objects.order_by("pk").values_list("is_active", flat=True)) == [False, True]
    assert AuditLogEntry.objects.get(shop=shop, action="shop.freeze").actor_label == "ops@huiyuan.example"
    assert api_client.get("/api/v1/shop/").json()["code"] == "shop_frozen"


def test_revoking_a_key_from_the_admin_is_audited(ops_client, shop, api_key):
    key, secret = api_key
    ops_client.post("/admin/shops/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditLogEntry.objects.filter(shop=shop, action="apikey.revoke").count() == 1


def test_merchant_staff_cannot_enter_the_admin(client, owner):
    client.force_login(owner)
    assert client.get("/admin/shops/shop/")["Location"].startswith("/admin/login/")


@pytest.mark.parametrize(
    "path", ["points/pointsentry", "points/pointsprogram", "points/bonusrule", "tiers/growthentry"]
)
def test_ledgers_and_rules_cannot_be_added_in_the_admin(ops_client, path):
    assert ops_client.get(f"/admin/{path}/add/").status_code == 403
