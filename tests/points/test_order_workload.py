"""A randomized concurrent workload on PostgreSQL: threads record orders (and deliver some twice), refund and
cancel them and redeem points, all against the same few members. Afterwards no balance is negative, every cached
balance equals its ledger and its lots, and each order keeps exactly floor(points x amount still paid / amount)
of what it earned unless the member had spent it."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from members.models import Member
from members.services import Enrolment, member_enroll
from orders.errors import InvalidStatusChange, RefundExceedsOrder
from orders.models import Order
from orders.services import OrderInput, RefundInput, order_change_status, order_record, refund_record
from points.errors import InsufficientPoints
from points.models import PointsEntry
from points.selectors import points_reconcile
from points.services import points_redeem
from shops.tenancy import shop_scope
from tests.concurrency import race
from tiers.models import GrowthEntry

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
EXPECTED = (InsufficientPoints, InvalidStatusChange, RefundExceedsOrder, Order.DoesNotExist)


def _worker(shop, members, seed: int):
    rng = random.Random(seed)

    def run():
        done = 0
        with shop_scope(shop):
            for step in range(25):
                member = rng.choice(members)
                action = rng.random()
                try:
                    if action < 0.45:
                        data = OrderInput(
                            external_id=f"W{seed}-{step}",
                            amount=Decimal(rng.randint(100, 90_000)) / 100,
                            paid_at=timezone.now() - timedelta(minutes=5),
                            member_id=member.pk,
                        )
                        for _ in range(2 if rng.random() < 0.3 else 1):  # a retried delivery
                            order_record(shop=shop, data=data)
                    elif action < 0.7:
                        number = f"W{rng.randint(0, 7)}-{rng.randint(0, step)}"
                        order = Order.objects.get(shop=shop, external_id=number)
                        left = order.amount - order.refunded_amount
                        amount = max(
                            Decimal("0.01"), (left * Decimal(rng.choice(["0.3", "0.5", "1"]))).quantize(Decimal("0.01"))
                        )
                        refund_record(
                            shop=shop, order=order, data=RefundInput(external_id=f"R{seed}-{step}", amount=amount)
                        )
                    elif action < 0.8:
                        order = Order.objects.get(shop=shop, external_id=f"W{rng.randint(0, 7)}-{rng.randint(0, step)}")
                        order_change_status(shop=shop, order=order, status="cancelled")
                    else:
                        points_redeem(
                            shop=shop, member=member, points=rng.randint(1, 300), idempotency_key=f"X{seed}-{step}"
                        )
                    done += 1
                except EXPECTED:
                    pass
        return done

    return run


def test_concurrent_orders_refunds_cancellations_and_redemptions_keep_the_books(shop):
    members = [member_enroll(shop=shop, data=Enrolment(phone=f"1380013800{i}"))[0] for i in range(3)]

    results = race([_worker(shop, members, seed) for seed in range(8)])

    assert all(isinstance(r, int) for r in results), results
    assert points_reconcile(shop=shop) == []
    for member in Member.objects.filter(shop=shop):
        assert member.points_balance >= 0
        growth = GrowthEntry.objects.filter(shop=shop, member=member).aggregate(total=Sum("value"))["total"] or 0
        assert member.growth_value == growth >= 0
    for order in Order.objects.filter(shop=shop):
        earned = PointsEntry.objects.filter(shop=shop, idempotency_key=f"order#{order.external_id}").first()
        assert (earned.points if earned else 0) == order.points_earned == int(order.amount)
        if not earned:
            continue
        kept = (
            0
            if order.status == "cancelled"
            else int(order.points_earned * (order.amount - order.refunded_amount) / order.amount)
        )
        clawed = -(PointsEntry.objects.filter(shop=shop, reverses=earned).aggregate(total=Sum("points"))["total"] or 0)
        assert clawed <= order.points_earned - kept  # never more than the refunds call for
