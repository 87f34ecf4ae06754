"""The nightly reconciliation: a cached balance that drifted from its ledger is reported (ids and figures, no
personal data), once per drifted member; balanced books produce no error."""

import logging

import pytest
from django.db import connection

from members.services import Enrolment, member_enroll
from points.selectors import points_reconcile_batches
from points.services import points_earn, points_redeem
from points.tasks import points_reconcile_all_shops, points_reconcile_shop

pytestmark = pytest.mark.django_db

PHONES = ("13800138000", "13900139000", "13700137000")


@pytest.fixture
def members(shop, other_shop):
    ours = [member_enroll(shop=shop, data=Enrolment(phone=p, name="张三"))[0] for p in PHONES]
    theirs = member_enroll(shop=other_shop, data=Enrolment(phone=PHONES[0], name="李四"))[0]
    for i, member in enumerate([*ours, theirs]):
        points_earn(shop=member.shop, member=member, points=100 + i, idempotency_key=f"e{i}")
    points_redeem(shop=shop, member=ours[0], points=40, idempotency_key="r0")
    return ours, theirs


def _drift(member, balance: int) -> None:
    """Change the cached balance behind the services' back, as a bug or a manual edit would."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE members_member SET points_balance = %s WHERE id = %s", [balance, member.pk])


def _errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_balanced_books_are_reported_clean_without_an_error(shop, members, caplog):
    caplog.set_level(logging.INFO, logger="points.tasks")
    assert points_reconcile_shop(shop.pk) == {"shop_id": shop.pk, "members": 3, "drifted": 0}
    assert _errors(caplog) == []


def test_a_drifted_balance_is_reported_with_ids_and_figures_only(shop, other_shop, members, caplog):
    ours, theirs = members
    _drift(ours[1], 250)

    summary = points_reconcile_shop(shop.pk)

    assert summary == {"shop_id": shop.pk, "members": 3, "drifted": 1}
    assert _errors(caplog) == [
        f"points drift: shop {shop.pk} member {ours[1].pk} cached 250 ledger 101 lots 101",
        f"points reconciliation: {summary}",
    ]
    assert not any(p in r.getMessage() or "张三" in r.getMessage() for r in caplog.records for p in PHONES)
    assert points_reconcile_shop(other_shop.pk) == {"shop_id": other_shop.pk, "members": 1, "drifted": 0}


def test_the_nightly_task_checks_every_shop_and_reports_only_the_drifted_one(shop, other_shop, members, caplog):
    ours, theirs = members
    _drift(theirs, 0)

    assert points_reconcile_all_shops() == 2

    assert _errors(caplog) == [
        f"points drift: shop {other_shop.pk} member {theirs.pk} cached 0 ledger 103 lots 103",
        f"points reconciliation: { {'shop_id': other_shop.pk, 'members': 1, 'drifted': 1} }",
    ]


def test_batches_cover_every_member_once(shop, members):
    ours, _theirs = members
    _drift(ours[2], 1)
    batches = list(points_reconcile_batches(shop=shop, batch_size=2))
    assert batches == [(2, []), (1, [{"member_id": ours[2].pk, "cached": 1, "ledger": 102, "lots": 102}])]
