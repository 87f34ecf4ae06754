"""Limits on staff log-ins (shops.logins, django-axes): 5 failures per account and 20 per network address within
15 minutes, then 429 with a message on the login page, the right password included; a success forgets the
account's failures; the dashboard's login and the Django admin's alike."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "correct-horse-battery"  # UserFactory's
WRONG = "wrong-password"


def attempt(client, email, password=WRONG, *, ip="203.0.113.7", path=LOGIN, **extra):
    return client.post(path, {"username": email, "password": password}, REMOTE_ADDR=ip, **extra)


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(client, owner):
    # given: four failures from four addresses (the address limit plays no part)
    answers = [attempt(client, owner.email, ip=f"203.0.113.{i}").status_code for i in range(4)]
    assert answers == [200, 200, 200, 200]

    # when: the fifth
    fifth = attempt(client, owner.email, ip="203.0.113.4", HTTP_ACCEPT_LANGUAGE="en")

    # then: the login page says why, with 429 and when to come back, and the right password is refused too
    assert fifth.status_code == 429
    assert fifth["Retry-After"] == "900"
    page = fifth.content.decode()
    assert "Too many failed log-ins for this account or from your network." in page
    assert "paused for 15 minutes" in page
    assert 'name="password"' in page  # the login form itself
    right = attempt(client, owner.email, PASSWORD, ip="198.51.100.9")
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_message_is_translated(client, owner):
    for i in range(5):
        answer = attempt(client, owner.email, ip=f"203.0.113.{i}", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert answer.status_code == 429
    assert "登录失败次数过多" in answer.content.decode()


def test_the_account_is_unlocked_after_the_cool_off(client, owner):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for i in range(5):
            attempt(client, owner.email, ip=f"203.0.113.{i}")
        clock.shift(timedelta(minutes=14))
        assert attempt(client, owner.email, PASSWORD).status_code == 429
        clock.shift(timedelta(minutes=1, seconds=1))  # refused attempts did not extend the pause
        assert attempt(client, owner.email, PASSWORD).status_code == 302


def test_a_success_forgets_the_accounts_failures(client, owner):
    for _ in range(4):
        attempt(client, owner.email)
    assert attempt(client, owner.email, PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    assert [attempt(client, owner.email).status_code for _ in range(4)] == [200, 200, 200, 200]


def test_case_variants_of_an_email_are_one_account(client, owner):
    for i, email in enumerate(["Owner@Shop-A.example", "OWNER@shop-a.example", " owner@SHOP-A.example", owner.email]):
        attempt(client, email, ip=f"203.0.113.{i}")
    assert attempt(client, "owner@shop-a.EXAMPLE", ip="203.0.113.9").status_code == 429
    assert attempt(client, owner.email, PASSWORD, ip="198.51.100.9").status_code == 429


def test_twenty_failures_from_one_address_lock_that_address_only(client, owner):
    # given: one address tries 19 accounts once each
    answers = [attempt(client, f"guess{i}@example.com", ip="203.0.113.50").status_code for i in range(19)]
    assert set(answers) == {200}

    # when: the twentieth failure from that address
    assert attempt(client, "guess19@example.com", ip="203.0.113.50").status_code == 429

    # then: that address cannot log in to any account; another address can
    assert attempt(client, owner.email, PASSWORD, ip="203.0.113.50").status_code == 429
    assert attempt(client, owner.email, PASSWORD, ip="198.51.100.1").status_code == 302


def test_logging_in_to_ones_own_account_does_not_wipe_the_addresss_failures(client, owner):
    mallory = UserFactory(email="mallory@example.com")
    for i in range(19):
        attempt(client, f"guess{i}@example.com", ip="203.0.113.50")
    assert attempt(client, mallory.email, PASSWORD, ip="203.0.113.50").status_code == 302
    client.post("/accounts/logout/")
    assert attempt(client, "guess19@example.com", ip="203.0.113.50").status_code == 429


def test_the_admin_login_is_limited_too(client):
    ops = UserFactory(email="ops@huiyuan.example", is_staff=True, is_superuser=True)
    answers = [attempt(client, ops.email, ip=f"203.0.113.{i}", path="/admin/login/") for i in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    page = answers[-1].content.decode()
    assert 'class="errornote"' in page and "登录失败次数过多" in page  # the admin's own login page
    assert attempt(client, ops.email, PASSWORD, ip="198.51.100.9", path="/admin/login/").status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_password_reset_lifts_the_accounts_lock(client, owner):
    # given: a locked account
    for i in range(5):
        attempt(client, owner.email, ip=f"203.0.113.{i}")
    # when: its owner resets the password through the emailed link
    client.post("/accounts/password-reset/", {"email": owner.email})
    link = re.search(r"http://testserver(/accounts/password-reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    client.post(form_page.redirect_chain[-1][0], {"new_password1": "brand-new-9-x", "new_password2": "brand-new-9-x"})
    # then: the new password logs in at once
    assert attempt(client, owner.email, "brand-new-9-x", ip="198.51.100.9").status_code == 302


def test_force_login_and_sessions_still_work_with_the_axes_backend_first(client, shop, owner, settings):
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    client.force_login(owner)
    assert client.get(f"/dashboard/{shop.slug}/").status_code == 200


def test_a_nul_in_the_headers_of_a_failed_login_is_an_ordinary_failure(client, owner):
    answer = attempt(client, owner.email, HTTP_USER_AGENT="bot\x00", HTTP_ACCEPT="text/html\x00")
    assert answer.status_code == 200
