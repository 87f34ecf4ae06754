"""Races on real PostgreSQL connections: each thread has its own connection and transaction."""

import pytest

from shops.errors import ApplicationError
from shops.models import AuditLogEntry, Shop, StaffMembership, User
from shops.roles import Role
from shops.services import SYSTEM, Actor, staff_add, staff_change_role, user_sign_up
from shops.tenancy import shop_scope
from tests.concurrency import race
from tests.factories import ShopFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_owners_demoting_each_other_at_once_leave_one_owner():
    # given: a shop with two owners
    first = UserFactory()
    shop = ShopFactory(owner=first)
    second = UserFactory()
    with shop_scope(shop):  # the test made this shop itself, so its body is in no shop's scope
        staff_add(shop=shop, actor=SYSTEM, user=second, role=Role.OWNER)
        memberships = list(StaffMembership.objects.filter(shop=shop).order_by("pk").select_related("user"))
    actors = [Actor.for_user(m.user) for m in reversed(memberships)]

    # when: each owner demotes the other, four times over, all at once
    def demote(membership, actor):
        with shop_scope(shop):  # as the dashboard view would: a new thread starts with no scope
            return staff_change_role(shop=shop, actor=actor, membership=membership, role=Role.ADMIN)

    results = race([(lambda m=m, a=a: demote(m, a)) for m, a in zip(memberships * 4, actors * 4, strict=True)])

    # then: one demotion won; the rest were refused for a domain reason (the demoted person is no longer an
    # owner, or the other is the last one) or found nothing left to do, never a deadlock or database error
    errors = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, ApplicationError) for e in errors), errors
    with shop_scope(shop):
        assert StaffMembership.objects.filter(shop=shop, role=Role.OWNER).count() == 1
        assert AuditLogEntry.objects.filter(shop=shop, action="staff.role_change").count() == 1


def test_concurrent_sign_ups_for_one_slug_make_one_shop_and_clear_errors():
    results = race(
        [
            (
                lambda i=i: user_sign_up(
                    email=f"p{i}@example.com", password="x-long-pass", name="", shop_name="店", shop_slug="same"
                )
            )
            for i in range(8)
        ]
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert Shop.objects.filter(slug="same").count() == 1
    assert len(errors) == 7
    assert all(isinstance(e, ApplicationError) and e.code == "slug_taken" for e in errors)
    # the losers' accounts were rolled back with their shops
    assert User.objects.filter(email__startswith="p").count() == 1


def test_concurrent_sign_ups_for_one_email_make_one_account_and_one_shop():
    results = race(
        [
            (
                lambda i=i: user_sign_up(
                    email="same@example.com", password="x-long-pass", name="", shop_name="店", shop_slug=f"shop-{i}"
                )
            )
            for i in range(8)
        ]
    )
    # the winner has its account and shop; the others were told by email, with nothing created and no error
    assert sum(r is not None for r in results) == 1, results
    assert results.count(None) == 7, results
    assert User.objects.filter(email="same@example.com").count() == 1
    assert Shop.objects.count() == 1
