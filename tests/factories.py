"""Factories that build through the services, so every shop has its owner and audit trail as in production."""

import factory

from shops.models import Shop, User
from shops.services import SYSTEM, apikey_create, shop_create, staff_add


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Faker("name", locale="zh_CN")
    password = "correct-horse-battery"

    @classmethod
    def _create(cls, model_class, *args, password, **kwargs):
        return model_class.objects.create_user(*args, password=password, **kwargs)


class ShopFactory(factory.Factory):
    """A shop with an owner (pass owner=... or get a new user)."""

    class Meta:
        model = Shop

    name = factory.Sequence(lambda n: f"店铺 {n}")
    slug = factory.Sequence(lambda n: f"shop-{n}")
    owner = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, *, owner, **kwargs):
        return shop_create(owner=owner, actor=SYSTEM, **kwargs)


def add_staff(shop: Shop, role: str, **user_fields) -> User:
    user = UserFactory(**user_fields)
    staff_add(shop=shop, actor=SYSTEM, user=user, role=role)
    return user


def make_api_key(shop: Shop, name: str = "integration") -> tuple:
    return apikey_create(shop=shop, actor=SYSTEM, name=name)
