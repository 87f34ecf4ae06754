"""Points races on real PostgreSQL connections: concurrent redemptions never overdraw, a retried write lands once,
and a mixed workload leaves every cached balance equal to its ledger."""

import random

import pytest

from members.models import Member
from members.services import Enrolment, member_enroll
from points.errors import InsufficientPoints
from points.models import PointsEntry
from points.selectors import points_reconcile
from points.services import points_earn, points_redeem
from tests.concurrency import in_scope, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_redemptions_of_a_hundred_points_spend_exactly_the_balance(shop):
    member = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))[0]
    points_earn(shop=shop, member=member, points=100, idempotency_key="e")

    results = race(
        [
            in_scope(shop, lambda i=i: points_redeem(shop=shop, member=member, points=10, idempotency_key=f"r{i}"))
            for i in range(20)
        ]
    )

    assert sum(1 for r in results if getattr(r, "created", False)) == 10
    assert all(isinstance(r, InsufficientPoints) for r in results if not getattr(r, "created", False))
    assert Member.objects.get(pk=member.pk).points_balance == 0
    assert points_reconcile(shop=shop) == []


def test_sixteen_deliveries_of_one_earning_credit_it_once(shop):
    member = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))[0]
    results = race(
        [in_scope(shop, lambda: points_earn(shop=shop, member=member, points=30, idempotency_key="order:1"))] * 16
    )
    assert [r.created for r in results].count(True) == 1, results
    assert len({r.entry.pk for r in results}) == 1
    assert PointsEntry.objects.count() == 1 and Member.objects.get(pk=member.pk).points_balance == 30


def test_a_random_mixed_workload_keeps_every_balance_equal_to_its_ledger(shop):
    members = [member_enroll(shop=shop, data=Enrolment(phone=f"1380013800{i}"))[0] for i in range(3)]
    rng = random.Random(7)
    work = []
    for n in range(48):
        member = rng.choice(members)
        points = rng.randint(1, 40)
        if rng.random() < 0.5:
            work.append(
                lambda m=member, p=points, n=n: points_earn(shop=shop, member=m, points=p, idempotency_key=f"e{n}")
            )
        else:
            work.append(
                lambda m=member, p=points, n=n: points_redeem(shop=shop, member=m, points=p, idempotency_key=f"r{n}")
            )
    for start in range(0, len(work), 12):  # twelve threads at a time
        results = race([in_scope(shop, w) for w in work[start : start + 12]])
        assert all(not isinstance(r, Exception) or isinstance(r, InsufficientPoints) for r in results), results

    assert points_reconcile(shop=shop) == []
    assert all(b >= 0 for b in Member.objects.values_list("points_balance", flat=True))
