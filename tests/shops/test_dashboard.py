"""The dashboard pages of the platform: roles, settings, staff, API keys, audit log, language."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from shops.models import ApiKey, AuditLogEntry, Shop, StaffMembership
from shops.roles import ROLE_PERMISSIONS, Perm, Role
from shops.services import SYSTEM, apikey_authenticate, shop_set_active
from tests.factories import ShopFactory, add_staff

pytestmark = pytest.mark.django_db

PAGES = {
    "home": None,
    "settings": Perm.SETTINGS_CHANGE,
    "staff": Perm.STAFF_MANAGE,
    "api_keys": Perm.APIKEYS_MANAGE,
    "audit": Perm.AUDIT_VIEW,
}


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_each_role_sees_the_pages_it_may_and_is_refused_the_others(client, shop, role, language):
    user = add_staff(shop, role) if role != Role.OWNER else shop.staffmembership_set.get().user
    client.force_login(user)
    client.cookies["django_language"] = language
    for page, permission in PAGES.items():
        response = client.get(reverse(f"dashboard:{page}", args=[shop.slug]))
        allowed = permission is None or permission in ROLE_PERMISSIONS[role]
        assert response.status_code == (200 if allowed else 403), (role, page)
        if allowed:
            assert shop.name in response.content.decode()


def test_an_analyst_may_not_see_full_phones_or_change_rules_and_a_clerk_only_looks_up_and_redeems():
    assert Perm.MEMBERS_PHONE not in ROLE_PERMISSIONS[Role.ANALYST]
    assert Perm.RULES_CHANGE not in ROLE_PERMISSIONS[Role.ANALYST]
    assert ROLE_PERMISSIONS[Role.CLERK] == {Perm.MEMBERS_VIEW, Perm.COUPONS_REDEEM}


def test_the_dashboard_speaks_chinese_by_default_and_english_on_request(owner_client, shop):
    chinese = owner_client.get(f"/dashboard/{shop.slug}/").content.decode()
    assert "会员" in chinese and "操作日志" in chinese
    owner_client.post("/i18n/setlang/", {"language": "en", "next": f"/dashboard/{shop.slug}/"})
    english = owner_client.get(f"/dashboard/{shop.slug}/").content.decode()
    assert "Members" in english and "Audit log" in english
    assert '<html lang="en">' in english


def test_settings_are_saved_and_audited_with_before_and_after(owner_client, shop):
    logo = SimpleUploadedFile("logo.png", _png_bytes(), content_type="image/png")
    response = owner_client.post(
        f"/dashboard/{shop.slug}/settings/",
        {
            "name": "甲店旗舰",
            "currency": "HKD",
            "time_zone": "Asia/Hong_Kong",
            "locale": "en",
            "colour": "#004488",
            "logo": logo,
        },
    )
    assert response.status_code == 302
    shop.refresh_from_db()
    assert (shop.name, shop.currency, shop.time_zone, shop.locale, shop.colour) == (
        "甲店旗舰",
        "HKD",
        "Asia/Hong_Kong",
        "en",
        "#004488",
    )
    assert shop.logo.name.startswith("shops/logos/")
    entry = AuditLogEntry.objects.get(shop=shop, action="shop.update")
    assert entry.actor_label == "owner@shop-a.example"
    assert entry.changes["name"] == ["甲店", "甲店旗舰"]
    assert entry.changes["currency"] == ["CNY", "HKD"]
    assert set(entry.changes) == {"name", "currency", "time_zone", "locale", "colour", "logo"}


def test_bad_settings_are_refused_and_change_nothing(owner_client, shop):
    response = owner_client.post(
        f"/dashboard/{shop.slug}/settings/",
        {"name": "", "currency": "XXX", "time_zone": "Mars/Base", "locale": "fr", "colour": "red"},
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "currency", "time_zone", "locale", "colour"}
    assert Shop.objects.get(pk=shop.pk).name == "甲店"
    assert not AuditLogEntry.objects.filter(action="shop.update").exists()


def test_an_oversized_or_non_image_logo_is_refused(owner_client, shop):
    fake = SimpleUploadedFile("logo.png", b"not an image", content_type="image/png")
    data = {"name": "甲店", "currency": "CNY", "time_zone": "Asia/Shanghai", "locale": "zh-hans", "colour": "#C8102E"}
    response = owner_client.post(f"/dashboard/{shop.slug}/settings/", {**data, "logo": fake})
    assert "logo" in response.context["form"].errors
    assert not Shop.objects.get(pk=shop.pk).logo


def test_an_api_key_secret_is_shown_once_and_works_until_revoked(owner_client, shop):
    # when: the owner creates a key
    response = owner_client.post(f"/dashboard/{shop.slug}/api-keys/", {"name": "POS"}, follow=True)
    # then: the page shows the secret once
    secret = response.context["new_key"]["secret"]
    assert secret in response.content.decode()
    assert secret not in owner_client.get(f"/dashboard/{shop.slug}/api-keys/").content.decode()
    api_key = ApiKey.objects.get(shop=shop)
    assert apikey_authenticate(secret=secret) == api_key
    # when: it is revoked
    owner_client.post(f"/dashboard/{shop.slug}/api-keys/{api_key.pk}/revoke/")
    # then
    assert apikey_authenticate(secret=secret) is None
    assert list(
        AuditLogEntry.objects.filter(shop=shop, action__startswith="apikey")
        .values_list("action", flat=True)
        .order_by("pk")
    ) == [
        "apikey.create",
        "apikey.revoke",
    ]


def test_staff_invite_role_change_and_removal_are_audited(owner_client, shop):
    owner_client.post(f"/dashboard/{shop.slug}/staff/", {"email": "mkt@example.com", "role": Role.MARKETER})
    colleague = add_staff(shop, Role.CLERK)
    membership = StaffMembership.objects.get(shop=shop, user=colleague)
    owner_client.post(f"/dashboard/{shop.slug}/staff/{membership.pk}/role/", {"role": Role.ANALYST})
    assert StaffMembership.objects.get(pk=membership.pk).role == Role.ANALYST
    owner_client.post(f"/dashboard/{shop.slug}/staff/{membership.pk}/remove/")
    assert not StaffMembership.objects.filter(pk=membership.pk).exists()
    actions = list(AuditLogEntry.objects.filter(shop=shop).order_by("pk").values_list("action", flat=True))
    assert actions[-4:] == ["staff.invite", "staff.add", "staff.role_change", "staff.remove"]
    page = owner_client.get(f"/dashboard/{shop.slug}/audit/").content.decode()
    assert 'data-action="staff.invite"' in page and 'data-action="staff.remove"' in page


def test_the_last_owner_can_neither_be_demoted_nor_removed(owner_client, shop, owner):
    membership = StaffMembership.objects.get(shop=shop, user=owner)
    response = owner_client.post(
        f"/dashboard/{shop.slug}/staff/{membership.pk}/role/", {"role": Role.ADMIN}, follow=True
    )
    assert any("at least one owner" in str(m) or "至少" in str(m) for m in response.context["messages"])
    owner_client.post(f"/dashboard/{shop.slug}/staff/{membership.pk}/remove/")
    assert StaffMembership.objects.get(pk=membership.pk).role == Role.OWNER


def test_an_admin_cannot_make_or_remove_owners(client, shop, owner):
    admin = add_staff(shop, Role.ADMIN)
    clerk = add_staff(shop, Role.CLERK)
    client.force_login(admin)
    clerk_membership = StaffMembership.objects.get(shop=shop, user=clerk)
    owner_membership = StaffMembership.objects.get(shop=shop, user=owner)
    client.post(f"/dashboard/{shop.slug}/staff/{clerk_membership.pk}/role/", {"role": Role.OWNER})
    client.post(f"/dashboard/{shop.slug}/staff/{owner_membership.pk}/remove/")
    client.post(f"/dashboard/{shop.slug}/staff/", {"email": "x@example.com", "role": Role.OWNER})
    assert StaffMembership.objects.get(pk=clerk_membership.pk).role == Role.CLERK
    assert StaffMembership.objects.get(pk=owner_membership.pk).role == Role.OWNER
    assert not AuditLogEntry.objects.filter(action__in=["staff.role_change", "staff.remove", "staff.invite"]).exists()


def test_a_person_in_several_shops_picks_one_and_sees_only_its_data(client, shop, owner):
    second = ShopFactory(name="甲二店", slug="shop-a2", owner=owner)
    client.force_login(owner)
    picker = client.get("/dashboard/").content.decode()
    assert "甲店" in picker and "甲二店" in picker
    page = client.get(f"/dashboard/{second.slug}/staff/").content.decode()
    assert "甲二店" in page


def test_a_frozen_shop_shows_the_frozen_page(owner_client, shop):
    shop_set_active(shop=shop, actor=SYSTEM, active=False)
    response = owner_client.get(f"/dashboard/{shop.slug}/")
    assert response.status_code == 403
    assert "frozen" in response.content.decode() or "冻结" in response.content.decode()


def test_anonymous_visitors_are_sent_to_login(client, shop):
    response = client.get(f"/dashboard/{shop.slug}/api-keys/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "#C8102E").save(buffer, "PNG")
    return buffer.getvalue()
