"""The PostgreSQL backend (shops/postgresql): an integer parameter outside its field's type travels whole, as a
bigint, instead of as the low 16 or 32 bits that the driver's binary Int2 and Int4 keep (issue 16). So a large
value is computed with exactly, or refused by PostgreSQL; never stored as another number."""

import pytest
from django.db import DataError, connection, transaction
from django.db.models import F
from psycopg.types.numeric import Int2, Int4, Int8

from members.models import Member
from members.services import Enrolment, member_enroll

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
BIG = 4_294_967_396  # 2**32 + 100


@pytest.fixture
def member(shop):
    return member_enroll(shop=shop, data=Enrolment(phone="13800138000"))[0]


def test_a_large_integer_in_an_expression_is_added_whole(shop, member):
    # A bare int in an expression is an IntegerField to Django, which typed it Int4: this added 100.
    Member.objects.filter(pk=member.pk).update(points_balance=F("points_balance") + BIG)

    assert Member.objects.get(pk=member.pk).points_balance == BIG


def test_an_integer_too_large_for_its_column_is_refused_instead_of_stored_cut(shop, member):
    with pytest.raises(DataError, match="out of range"), transaction.atomic():
        Member.objects.filter(pk=member.pk).update(order_count=2**32 + 1)  # an int4 column: this stored 1

    assert Member.objects.get(pk=member.pk).order_count == 0


def test_integers_in_range_keep_the_types_django_gives_them():
    adapt = connection.ops.adapt_integerfield_value

    assert type(adapt(5, "SmallIntegerField")) is Int2
    assert type(adapt(5, "PositiveIntegerField")) is Int4
    assert type(adapt(-(2**31), "IntegerField")) is Int4
    assert type(adapt(2**31, "IntegerField")) is Int8
    assert type(adapt(2**15, "PositiveSmallIntegerField")) is Int8
    assert type(adapt(2**63, "BigIntegerField")) is int  # numeric: PostgreSQL compares it, or refuses to store it
    assert adapt(None, "IntegerField") is None
