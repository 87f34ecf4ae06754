import pytest
from django_scopes import ScopeError

from shops.models import ApiKey, AuditLogEntry, StaffMembership
from shops.tenancy import all_shops, no_shop_scope, shop_scope, task_shop_scope
from tests.factories import make_api_key


@pytest.mark.django_db
def test_a_query_outside_a_shop_scope_raises(shop):
    with no_shop_scope(), pytest.raises(ScopeError):  # what a forgotten scope looks like
        list(StaffMembership.objects.all())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        lambda m: m.get(pk=1),
        lambda m: m.count(),
        lambda m: m.first(),
        lambda m: m.values_list("pk"),
        lambda m: list(m.exclude(pk=1)),
        lambda m: m.update(name="x"),
        lambda m: m.select_for_update(),
    ],
    ids=["get", "count", "first", "values_list", "exclude", "update", "select_for_update"],
)
def test_every_way_of_reading_or_writing_outside_a_scope_raises(shop, query):
    make_api_key(shop)
    with no_shop_scope(), pytest.raises(ScopeError):
        query(ApiKey.objects)


@pytest.mark.django_db
def test_a_shop_scope_sees_only_that_shops_rows(shop, other_shop):
    make_api_key(shop, "a")
    make_api_key(other_shop, "b")
    with no_shop_scope(), shop_scope(shop):
        assert list(ApiKey.objects.values_list("name", flat=True)) == ["a"]
        assert not ApiKey.objects.filter(shop=other_shop).exists()


@pytest.mark.django_db
def test_the_named_escape_sees_every_shop(shop, other_shop):
    with no_shop_scope(), all_shops():
        assert AuditLogEntry.objects.filter(action="shop.create").count() == 2


@pytest.mark.django_db
def test_a_task_scope_is_resolved_from_the_shop_id(shop, other_shop):
    with no_shop_scope(), task_shop_scope(shop.pk) as resolved:
        assert resolved == shop
        assert list(StaffMembership.objects.values_list("shop_id", flat=True)) == [shop.pk]
