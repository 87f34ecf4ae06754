"""Sign-up, login, logout, password reset and staff invitations, through the real pages."""

import re

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.test import Client
from django_scopes import scopes_disabled

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


def test_sign_up_creates_a_shop_whose_owner_is_emailed_and_then_logs_in(client, django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/signup/", SIGN_UP)
    # then: the shop and its owner exist, and the owner is told where to log in
    assert response.status_code == 302
    assert response["Location"] == "/accounts/signup/done/"
    assert "_auth_user_id" not in client.session
    user = User.objects.get(email="chen@example.com")
    shop = Shop.objects.get(slug="jingxin-flowers")
    with scopes_disabled():  # the new shop's rows, outside any fixture's scope
        assert StaffMembership.objects.filter(shop=shop, user=user, role=Role.OWNER).count() == 1
        assert list(AuditLogEntry.objects.filter(shop=shop).values_list("action", "actor_label")) == [
            ("shop.create", "chen@example.com")
        ]
    [message] = mail.outbox
    assert message.to == ["chen@example.com"]
    assert "静心花店" in message.subject
    assert "http://127.0.0.1:8000/accounts/login/" in message.body
    assert "请查收邮件" in client.get(response["Location"]).content.decode()
    # and: the owner logs in to the new shop
    client.post("/accounts/login/", {"username": "chen@example.com", "password": SIGN_UP["password"]})
    assert "静心花店" in client.get("/dashboard/", follow=True).content.decode()


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


def test_sign_up_with_a_taken_slug_shows_the_error_and_creates_nothing(client, shop, owner):
    for email in ("new@example.com", owner.email):  # the same answer whether the email has an account or not
        taken_slug = client.post("/accounts/signup/", {**SIGN_UP, "email": email, "shop_slug": shop.slug})
        assert taken_slug.status_code == 200 and taken_slug.context["form"].non_field_errors()
    assert (User.objects.count(), Shop.objects.count()) == (1, 1)
    assert mail.outbox == []


def test_sign_up_with_a_taken_email_answers_as_a_new_one_and_emails_the_owner(
    client, shop, owner, django_capture_on_commit_callbacks
):
    # when: a new address, then the owner's address (in other case), each with a free link name
    with django_capture_on_commit_callbacks(execute=True):
        new = client.post("/accounts/signup/", SIGN_UP)
        taken = Client().post("/accounts/signup/", {**SIGN_UP, "email": "Owner@Shop-A.example", "shop_slug": "lure"})

    # then: the same answer: status, redirect, cookies (nobody logged in)
    assert (
        (taken.status_code, taken["Location"]) == (new.status_code, new["Location"]) == (302, "/accounts/signup/done/")
    )
    assert set(taken.cookies) == set(new.cookies) == set()
    # and: nothing was created or changed for the taken address
    assert not Shop.objects.filter(slug="lure").exists()
    assert User.objects.filter(email__iexact=owner.email).count() == 1
    owner.refresh_from_db()
    assert owner.check_password("correct-horse-battery") and owner.name == "店主甲"
    # and: its owner was told, with where to log in or reset the password, and nothing the form carried
    [_welcome, told] = mail.outbox
    assert told.to == ["owner@shop-a.example"]
    assert told.subject == "有人尝试用您的邮箱地址注册 Huiyuan"
    assert "http://127.0.0.1:8000/accounts/login/" in told.body
    assert "http://127.0.0.1:8000/accounts/password-reset/" in told.body
    assert SIGN_UP["shop_name"] not in told.body and SIGN_UP["name"] not in told.body


def test_the_taken_email_email_follows_the_language_of_the_page(client, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/signup/", {**SIGN_UP, "email": owner.email}, HTTP_ACCEPT_LANGUAGE="en")
    [told] = mail.outbox
    assert told.subject == "Someone tried to sign up for Huiyuan with your email address"
    assert "Nothing was created, and your account is unchanged." in told.body


class CountingHasher(MD5PasswordHasher):
    encoded = 0

    def encode(self, password, salt):
        CountingHasher.encoded += 1
        return super().encode(password, salt)


def test_both_answers_hash_the_password_once_so_they_take_about_as_long(client, owner, settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    counts = []
    for email in ("new@example.com", owner.email):
        CountingHasher.encoded = 0
        client.post("/accounts/signup/", {**SIGN_UP, "email": email, "shop_slug": email[:3] + "-shop"})
        counts.append(CountingHasher.encoded)
    assert counts == [1, 1]


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
