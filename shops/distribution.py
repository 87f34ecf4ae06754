"""What makes the schema distributable by shop on Citus (SPEC 2, README "Deploying on Citus").

Citus splits a distributed table by one column, here `shop_id`, and keeps all rows of a shop on one node. It then
needs three things of the schema, which PostgreSQL alone does not care about:
- every primary and unique key of a shop's table contains `shop_id`, since a node can only check uniqueness among
  the rows it holds;
- every foreign key between two shops' tables contains `shop_id` on both sides, `(shop_id, member_id) ->
  (shop_id, id)`, so that it never points to another node;
- every join between two shops' tables has `shop_id = shop_id` among its conditions, so that the planner can send
  it to the one node that holds the shop.

Here each rule has one owner:
- `ShopForeignKey` is the one way a shop's model refers to another shop's model. Django keeps `id` as the pk and
  the relation's one column; the field adds the shop to every join it makes and to every related-object fetch,
  and it makes no database constraint of its own: the PostgreSQL schema editor (`shops.postgresql.schema`) makes
  the composite one instead, and gives every shop's table the primary key `(shop_id, id)`. SQLite, the embedded
  default, keeps Django's plain tables.
- `ShopOwned.save()` never writes `shop_id` and always filters by it (shops.models).
- `tests/test_distribution_catalog.py` reads the catalog of a migrated database and `tests/test_distribution_queries.py`
  every statement the suite runs, and both fail on what Citus would refuse.

A few shop tables are looked up before the shop is known, by a secret or a public code that is unique across
shops: staff memberships (at sign-in), invitations, API keys and channels. They are small and rarely written, so
on Citus they are *reference tables*, copied to every node, where such a global key is allowed. Referral codes
grow with the members and belong with them, so their table is distributed and only the code's shop is global
(recruitment.ReferralCodeRoute, a reference table of two columns).
"""

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.sql.where import AND, WhereNode

# Shop tables that stay whole on every node (see above). Everything else with a `shop` is distributed by it.
REFERENCE_MODELS = frozenset(
    {
        "shops.StaffMembership",
        "shops.Invitation",
        "shops.ApiKey",
        "recruitment.Channel",
        "recruitment.ReferralCodeRoute",
    }
)
# Tables without a shop that every node needs: the shops themselves and the people who sign in.
GLOBAL_REFERENCE_MODELS = frozenset({"shops.Shop", "shops.User"})


def is_shop_model(model) -> bool:
    """Whether a model (a real one or a migration's historical one) carries a `shop` relation to shops.Shop."""
    try:
        field = model._meta.get_field("shop")
    except FieldDoesNotExist:
        return False
    related = getattr(field, "related_model", None)
    return related is not None and related._meta.label == "shops.Shop"


def is_distributed_model(model) -> bool:
    return is_shop_model(model) and model._meta.label not in REFERENCE_MODELS


def shop_models() -> list:
    """Every concrete, managed model with a shop, in the order of the app registry."""
    return [m for m in apps.get_models() if not m._meta.abstract and m._meta.managed and is_shop_model(m)]


class ShopForeignKey(models.ForeignKey):
    """A relation from one shop's row to another row of the same shop.

    It behaves as a ForeignKey in Python. In SQL, every join it makes reads `... ON b.id = a.x_id AND b.shop_id =
    a.shop_id` (the technique of django-multitenant's TenantForeignKey), and `row.x` fetches `WHERE id = %s AND
    shop_id = %s`, so that both can be routed to one node. Its constraint is the composite one the PostgreSQL schema
    editor creates, never Django's one-column constraint.
    """

    def __init__(self, to, on_delete, **kwargs):
        kwargs["db_constraint"] = False
        super().__init__(to, on_delete, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("db_constraint", None)
        return name, path, args, kwargs

    def get_extra_restriction(self, alias, related_alias):
        # `alias` is the referenced table's alias, `related_alias` the alias of the table holding this column,
        # whichever way the join goes (a reverse join swaps them before calling here).
        here = self.model._meta.get_field("shop")
        there = self.related_model._meta.get_field("shop")
        condition = WhereNode()
        condition.add(here.get_lookup("exact")(there.get_col(alias), here.get_col(related_alias)), AND)
        return condition

    def get_extra_descriptor_filter(self, instance):
        return {"shop_id": instance.shop_id}
