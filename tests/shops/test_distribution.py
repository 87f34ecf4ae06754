"""What ShopForeignKey and ShopOwned do to the SQL, so that Citus can send each statement to the shop's node
(shops.distribution). The catalog (tests/test_distribution_catalog.py) and every statement of the suite
(tests/test_distribution_queries.py) are checked elsewhere; these pin the mechanisms."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.utils import IntegrityError
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from members.models import Member
from orders.models import Order
from recruitment.models import ReferralCode, ReferralCodeRoute
from recruitment.referrals import referral_code_for
from recruitment.selectors import referral_code_owner
from tests.factories import MemberFactory, OrderFactory

pytestmark = pytest.mark.django_db


def shop_equality(sql: str, left: str, right: str) -> bool:
    sql = sql.replace("(", "").replace(")", "")
    pairs = (f'"{left}"."shop_id" = "{right}"."shop_id"', f'"{right}"."shop_id" = "{left}"."shop_id"')
    return any(pair in sql for pair in pairs)


def test_a_join_along_a_relation_pairs_the_shops(shop):
    sql = str(Order.objects.filter(member__phone="+8613800000000").query)
    assert "INNER JOIN" in sql and shop_equality(sql, "members_member", "orders_order")


def test_a_join_against_a_relation_pairs_the_shops(shop):
    sql = str(Member.objects.filter(orders__external_id="F-1").query)
    assert "INNER JOIN" in sql and shop_equality(sql, "members_member", "orders_order")


def test_fetching_a_related_row_names_its_shop(shop):
    order = OrderFactory(member=MemberFactory(shop=shop), shop=shop)
    order = Order.objects.get(pk=order.pk)
    with CaptureQueriesContext(connection) as captured:
        assert order.member.shop_id == shop.pk
    [query] = captured.captured_queries
    assert '"members_member"."shop_id" = ' in query["sql"]


def test_saving_a_row_neither_writes_nor_ignores_its_shop(shop, other_shop):
    member = MemberFactory(shop=shop)
    member.name = "Renamed"
    with CaptureQueriesContext(connection) as captured:
        member.save()
    [update] = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE")]
    set_clause, where_clause = update.split(" WHERE ")
    assert '"shop_id"' not in set_clause and '"members_member"."shop_id" = ' in where_clause
    # A row put on another shop in Python is not moved there: the update finds no such row of that shop.
    member.shop = other_shop
    member.name = "Moved?"
    with pytest.raises(DatabaseError, match="did not affect any rows"), transaction.atomic():
        member.save(update_fields=["name"])
    with scopes_disabled():
        assert Member.objects.filter(pk=member.pk).values_list("shop_id", "name").get() == (shop.pk, "Renamed")


@pytest.mark.postgres
def test_the_composite_key_refuses_a_relation_to_another_shops_row(shop, other_shop):
    """The database itself keeps an order and its member on one shop, not only the services."""
    member = MemberFactory(shop=other_shop)
    with pytest.raises(IntegrityError), transaction.atomic(), scopes_disabled():
        Order.objects.create(
            shop=shop, member_id=member.pk, external_id="X-1", amount="1.00", paid_at="2026-01-01T00:00:00Z"
        )
        connection.check_constraints()
    with scopes_disabled():
        assert not Order.objects.filter(external_id="X-1").exists()


def test_a_referral_code_is_routed_to_its_shop_and_unique_across_shops(shop, other_shop):
    member = MemberFactory(shop=shop)
    code = referral_code_for(shop=shop, member=member)
    assert referral_code_for(shop=shop, member=member) == code
    owner = referral_code_owner(code=code.lower())
    assert (owner.shop, owner.member_id) == (shop, member.pk)
    with scopes_disabled():
        assert list(ReferralCodeRoute.objects.values_list("shop_id", "code")) == [(shop.pk, code)]
        with pytest.raises(IntegrityError), transaction.atomic():  # another shop cannot draw it
            ReferralCodeRoute.objects.create(shop=other_shop, code=code)
        assert ReferralCodeRoute.objects.count() == 1
        with pytest.raises(ReferralCode.DoesNotExist):
            referral_code_owner(code="NOSUCH00")


def test_a_code_another_shop_holds_is_drawn_again(shop, other_shop, monkeypatch):
    """The route's global key is what keeps referral codes unique across shops, now that each shop's codes are
    unique only among its own: a draw another shop holds fails there, leaves nothing behind, and is drawn again."""
    draws = iter(["TAKEN001", "TAKEN001", "FRESH002"])
    monkeypatch.setattr("recruitment.referrals.code_new", lambda: next(draws))
    theirs = referral_code_for(shop=other_shop, member=MemberFactory(shop=other_shop))
    member = MemberFactory(shop=shop)
    assert (theirs, referral_code_for(shop=shop, member=member)) == ("TAKEN001", "FRESH002")
    with scopes_disabled():
        assert sorted(ReferralCodeRoute.objects.values_list("shop_id", "code")) == sorted(
            [(other_shop.pk, "TAKEN001"), (shop.pk, "FRESH002")]
        )
        assert list(ReferralCode.objects.filter(shop=shop).values_list("member_id", "code")) == [
            (member.pk, "FRESH002")
        ]


@pytest.mark.postgres
def test_on_citus_a_new_shop_table_is_distributed_before_its_foreign_keys(monkeypatch):
    """Citus is in neither Debian's nor PyPI's repositories, so its two catalog reads stand in for it here: what is
    checked is the SQL a migration sends, in its order (README, "Deploying on Citus")."""
    from shops.postgresql import schema
    from tests.jobapp.models import SampleMark

    monkeypatch.setattr(schema, "citus_installed", lambda connection: True)
    monkeypatch.setattr(schema, "citus_tables", lambda connection: {"members_member": "distributed", "x": "reference"})
    with connection.schema_editor(collect_sql=True) as editor:
        editor.create_model(SampleMark)
    sql = [statement for statement in editor.collected_sql if not statement.startswith("--")]
    distribute = sql.index(
        "SELECT create_distributed_table('jobapp_samplemark', 'shop_id', colocate_with => 'members_member');"
    )
    [foreign_key] = [i for i, statement in enumerate(sql) if 'FOREIGN KEY (shop_id, "member_id")' in statement]
    assert sql[distribute - 1].endswith('PRIMARY KEY (shop_id, "id");') and distribute < foreign_key
