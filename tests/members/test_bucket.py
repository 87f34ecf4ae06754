"""The holdout bucket (SPEC 12): every member gets a fixed, uniform draw in 0..9999 at enrolment, whichever path
enrols them, and the migration gave one to the members enrolled before it."""

import random
from decimal import Decimal
from importlib import import_module
from statistics import mean

import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from members.demo import seed_members
from members.imports.engine import import_create, import_process
from members.models import BUCKETS, Member
from members.services import Enrolment, members_bulk_enroll
from orders.services import OrderInput, order_record
from shops.models import Shop
from shops.services import SYSTEM
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _assert_spread(buckets: list[int]) -> None:
    """2,000 or so uniform draws in 0..9999: the mean is within 5 standard errors (about 65 each) of 4,999.5, and
    most draws differ (about 1,800 distinct values are expected of 2,000)."""
    assert all(0 <= b < BUCKETS for b in buckets)
    assert abs(mean(buckets) - 4999.5) < 5 * 2887 / len(buckets) ** 0.5
    assert len(set(buckets)) > 0.8 * len(buckets)


def test_member_enroll_gives_a_bucket_kept_in_the_row(shop):
    member = MemberFactory(shop=shop)

    assert 0 <= member.bucket < BUCKETS
    assert Member.objects.get(pk=member.pk).bucket == member.bucket


def test_members_bulk_enroll_gives_each_member_its_own_draw(shop):
    enrolments = [Enrolment(phone=f"+86138{n:08d}") for n in range(2000)]

    members_bulk_enroll(shop=shop, enrolments=enrolments, source="test")

    _assert_spread(list(Member.objects.filter(shop=shop).values_list("bucket", flat=True)))


def test_a_member_import_gives_each_member_its_own_draw(shop):
    rows = "手机号\n" + "".join(f"138{n:08d}\n" for n in range(2000))
    upload = ContentFile(rows.encode(), name="members.csv")
    job = import_create(shop=shop, kind="members", upload=upload, actor=SYSTEM, dispatch=False)

    job = import_process(shop=shop, job_id=job.pk)

    assert job.created_rows == 2000
    _assert_spread(list(Member.objects.filter(shop=shop).values_list("bucket", flat=True)))


def test_joining_on_purchase_gives_the_buyer_a_bucket(shop):
    Shop.objects.filter(pk=shop.pk).update(join_on_purchase=True)
    shop.refresh_from_db()

    order_record(
        shop=shop,
        data=OrderInput(external_id="B-1", phone="+8613900139000", amount=Decimal("10.00"), paid_at=timezone.now()),
    )

    member = Member.objects.get(shop=shop, phone="+8613900139000")
    assert member.join_channel == "purchase"
    assert 0 <= member.bucket < BUCKETS


def test_the_demo_members_are_spread_over_the_buckets(shop):
    seed_members(shop=shop, rng=random.Random(7), members=2000)

    _assert_spread(list(Member.objects.filter(shop=shop).values_list("bucket", flat=True)))


def test_an_insert_written_in_sql_gets_a_bucket_from_the_database(shop):
    # given: a row inserted without the column, as raw loads (bench/generate.py, COPY) write them
    columns = [f for f in Member._meta.concrete_fields if not (f.primary_key or f.name == "bucket")]
    template = Member(shop=shop, phone="")
    values = [f.get_db_prep_save(f.pre_save(template, add=True), connection) for f in columns]
    quote = connection.ops.quote_name
    rows = [list(values) for _ in range(2000)]
    phone = [f.name for f in columns].index("phone")
    for n, row in enumerate(rows):
        row[phone] = f"+86137{n:08d}"

    # when
    with connection.cursor() as cursor:
        # tenant-ok: shop_id is among the columns written, from the template member of `shop`
        cursor.executemany(
            f"INSERT INTO members_member ({', '.join(quote(f.column) for f in columns)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(columns))})",
            rows,
        )

    # then
    _assert_spread(list(Member.objects.filter(shop=shop).values_list("bucket", flat=True)))


@pytest.mark.parametrize("bucket", [-1, BUCKETS])
def test_a_bucket_out_of_range_is_refused_by_the_database(shop, bucket):
    member = MemberFactory(shop=shop)

    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.filter(pk=member.pk).update(bucket=bucket)

    assert Member.objects.get(pk=member.pk).bucket == member.bucket


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_the_members_enrolled_before_it_a_bucket(shop, other_shop, monkeypatch):
    # given: the schema before the bucket, members of two shops, and chunks small enough that the shop has four
    monkeypatch.setattr(import_module("members.migrations.0014_member_bucket"), "CHUNK", 500)
    executor = MigrationExecutor(connection)
    executor.migrate([("members", "0013_shop_index_in_primary_key")])
    old = executor.loader.project_state([("members", "0013_shop_index_in_primary_key")]).apps
    OldMember = old.get_model("members", "Member")
    for s, count in ((shop, 2000), (other_shop, 30)):
        OldMember.objects.bulk_create(OldMember(shop_id=s.pk, phone=f"+86136{n:08d}") for n in range(count))

    # when
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    # then: every member has its own draw, the shop's 2,000 spread, the other shop's too
    _assert_spread(list(Member.objects.filter(shop=shop).values_list("bucket", flat=True)))
    theirs = list(Member.objects.filter(shop=other_shop).values_list("bucket", flat=True))
    assert len(theirs) == 30
    assert all(0 <= b < BUCKETS for b in theirs)
    assert len(set(theirs)) > 20
