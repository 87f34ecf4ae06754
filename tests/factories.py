"""Factories that build through the services, so every row has its caches, ledgers and audit trail as in
production, and that keep children on their parent's shop.

- UserFactory, ShopFactory (shops.services.shop_create: the shop with its owner).
- MemberFactory(shop=..., **Enrolment fields, source="api"): members.services.member_enroll. Phones come from a
  range (+86 147...) no test writes by hand; a phone that is a member already is an error, not that member.
- OrderFactory(member=..., amount=..., **OrderInput fields): orders.services.order_record, on the member's shop,
  paid a minute ago. Returns the Order.
- CouponTemplateFactory(shop=..., **template fields): coupons.services.template_create; by default 20 off 100,
  valid 30 days from issue, or until valid_until when that is given.
- CouponFactory(member=..., template=..., source=...): coupons.issuance.coupon_issue, on the member's shop (a
  template of another shop fails). Returns the Coupon.
- ChannelFactory(shop=..., **ChannelInput fields): recruitment.channels.channel_create.
"""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from coupons.issuance import coupon_issue
from coupons.models import Coupon, CouponTemplate, Source
from coupons.services import template_create
from members.models import Member
from members.services import Enrolment, member_enroll
from orders.models import Order
from orders.services import OrderInput, order_record
from recruitment.channels import ChannelInput, channel_create
from recruitment.models import Channel
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


class MemberFactory(factory.Factory):
    """A member enrolled through member_enroll; any other Enrolment field as a keyword."""

    class Meta:
        model = Member

    shop = factory.SubFactory(ShopFactory)
    phone = factory.Sequence(lambda n: f"+86147{n:08d}")
    source = "api"

    @classmethod
    def _create(cls, model_class, *, shop, source, **fields):
        member, created = member_enroll(shop=shop, data=Enrolment(**fields), source=source)
        assert created, f"{fields['phone']} is a member of shop {shop.pk} already"
        return member


class OrderFactory(factory.Factory):
    """An order of `member` (on the member's shop) recorded through order_record; any other OrderInput field as a
    keyword (amount as text or Decimal)."""

    class Meta:
        model = Order

    member = factory.SubFactory(MemberFactory)
    shop = factory.LazyAttribute(lambda o: o.member.shop)
    external_id = factory.Sequence(lambda n: f"F-{n}")
    amount = Decimal("100.00")
    paid_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=1))

    @classmethod
    def _create(cls, model_class, *, shop, member, amount, **fields):
        assert member.shop_id == shop.pk, "an order is on its member's shop"
        data = OrderInput(member_id=member.pk, amount=Decimal(str(amount)), **fields)
        return order_record(shop=shop, data=data).order


class CouponTemplateFactory(factory.Factory):
    """A coupon template created through template_create; any other template field as a keyword."""

    class Meta:
        model = CouponTemplate

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"满100减20 {n}")
    kind = "amount_off"
    value = Decimal("20")
    min_spend = Decimal("100")
    valid_until = None
    valid_days = factory.LazyAttribute(lambda o: None if o.valid_until else 30)  # a fixed window, or days from issue

    @classmethod
    def _create(cls, model_class, *, shop, **data):
        return template_create(shop=shop, actor=SYSTEM, data=data)


class CouponFactory(factory.Factory):
    """A coupon of `template` issued to `member` through coupon_issue (by default as a staff grant, which any
    member of the shop may receive). The member's shop is the coupon's; the template must be of it too."""

    class Meta:
        model = Coupon

    member = factory.SubFactory(MemberFactory)
    shop = factory.LazyAttribute(lambda o: o.member.shop)
    template = factory.SubFactory(CouponTemplateFactory, shop=factory.SelfAttribute("..shop"))
    source = Source.GRANT
    idempotency_key = factory.Sequence(lambda n: f"factory#{n}")

    @classmethod
    def _create(cls, model_class, *, shop, **fields):
        return coupon_issue(shop=shop, **fields).coupon


class ChannelFactory(factory.Factory):
    """A recruitment channel (entry point) created through channel_create; any other ChannelInput field as a
    keyword (welcome_coupon_ids, tag_ids of the same shop)."""

    class Meta:
        model = Channel

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"门店收银台 {n}")

    @classmethod
    def _create(cls, model_class, *, shop, **fields):
        return channel_create(shop=shop, actor=SYSTEM, data=ChannelInput(**fields))
