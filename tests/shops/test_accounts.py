"""Sign-up, login, logout, password reset and staff invitations, through the real pages."""

import re

import pytest
from django.core import mail

from shops.models import AuditLogEntry, Invitation, Shop, StaffMembership, User
from shops.roles import Role
from shops.services import SYSTEM, staff_invite
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SIGN_UP = {
    "name": "陈静",
    "email": "Chen@Example.com",
    "password": "a-long-pass-phrase",
    "shop_name": "静心花店",
    "shop_slug": "jingxin-flowers",
}


def test_sign_up_creates_a_shop_owned_by_the_new_user_and_logs_them_in(client):
    response = client.post("/accounts/signup/", SIGN_UP)
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/jingxin-flowers/"
    user = User.objects.get(email="chen@example.com")
    shop = Shop.objects.get(slug="jingxin-flowers")
    assert StaffMembership.objects.filter(shop=shop, user=user, role=Role.OWNER).count() == 1
    assert list(AuditLogEntry.objects.filter(shop=shop).values_list("action", "actor_label")) == [
        ("shop.create", "chen@example.com")
    ]
    assert "静心花店" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"shop_slug": "Not A Slug"}, "shop_slug"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "123"}, "password"),
    ],
)
def test_sign_up_with_bad_fields_shows_errors_and_creates_nothing(client, change, field):
    response = client.post("/accounts/signup/", {**SIGN_UP, **change})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert (User.objects.count(), Shop.objects.count()) == (0, 0)


def test_sign_up_with_a_taken_slug_or_email_creates_nothing(client, shop, owner):
    taken_slug = client.post("/accounts/signup/", {**SIGN_UP, "shop_slug": shop.slug})
    assert taken_slug.status_code == 200 and taken_slug.context["form"].non_field_errors()
    taken_email = client.post("/accounts/signup/", {**SIGN_UP, "email": owner.email})
    assert taken_email.status_code == 200 and taken_email.context["form"].non_field_errors()
    assert (User.objects.count(), Shop.objects.count()) == (1, 1)


def test_login_and_logout(client, shop, owner):
    response = client.post("/accounts/login/", {"username": owner.email, "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.get("/dashboard/", follow=True).redirect_chain[-1][0] == f"/dashboard/{shop.slug}/"
    client.post("/accounts/logout/")
    assert client.get(f"/dashboard/{shop.slug}/")["Location"].startswith("/accounts/login/")


def test_a_wrong_password_does_not_log_in(client, owner):
    response = client.post("/accounts/login/", {"username": owner.email, "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_password_reset_by_email(client, owner):
    client.post("/accounts/password-reset/", {"email": owner.email})
    [message] = mail.outbox
    link = re.search(r"http://testserver(/accounts/password-reset/\S+/)", message.body).group(1)
    form_page = client.get(link, follow=True)
    client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "brand-new-secret-9", "new_password2": "brand-new-secret-9"}
    )
    owner.refresh_from_db()
    assert owner.check_password("brand-new-secret-9")


def _invitation_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/invitations/\S+/)", message.body).group(1)


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    """Invite through the service and deliver its email, as the commit would."""

    def send(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return staff_invite(actor=SYSTEM, **kwargs)

    return send


def test_an_invited_person_without_an_account_creates_one_and_joins(client, shop, invite):
    # given
    invite(shop=shop, email="New.Clerk@Example.com", role=Role.CLERK)
    [message] = mail.outbox
    assert message.to == ["new.clerk@example.com"]
    assert "甲店" in message.subject
    link = _invitation_link(message)
    # when
    response = client.post(link, {"name": "小赵", "password": "clerk-pass-phrase"})
    # then
    assert response["Location"] == f"/dashboard/{shop.slug}/"
    user = User.objects.get(email="new.clerk@example.com")
    assert StaffMembership.objects.get(shop=shop, user=user).role == Role.CLERK
    assert Invitation.objects.get(shop=shop).accepted_at is not None
    assert client.get(link).status_code == 404  # used once


def test_an_invited_person_with_an_account_signs_in_then_accepts(client, shop, other_owner, invite):
    invite(shop=shop, email=other_owner.email, role=Role.ANALYST)
    link = _invitation_link(mail.outbox[0])
    assert client.post(link)["Location"].startswith("/accounts/login/")
    client.force_login(other_owner)
    client.post(link)
    assert StaffMembership.objects.get(shop=shop, user=other_owner).role == Role.ANALYST


def test_someone_else_cannot_accept_an_invitation(client, shop, invite):
    invite(shop=shop, email="invited@example.com", role=Role.ADMIN)
    link = _invitation_link(mail.outbox[0])
    intruder = UserFactory(email="intruder@example.com")
    client.force_login(intruder)
    client.post(link)
    assert not StaffMembership.objects.filter(user=intruder).exists()
    assert Invitation.objects.get(shop=shop).accepted_at is None


def test_an_unknown_invitation_token_is_404(client):
    assert client.get("/accounts/invitations/not-a-token/").status_code == 404
